//! The SQLite driver of [`crate::sql_store`]: one connection on a thread of its own, with
//! group commit.
//!
//! Statements arrive in one queue ([`WriterQueue`]); the thread runs whatever is
//! waiting as one transaction and answers each only after the commit, so a claim is on
//! disk before its purchase request can leave, and concurrent purchases share one
//! commit (and its `fsync`). Other processes on the same file wait on SQLite's lock
//! (`busy_timeout`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags, Row, types::Value};
use tokio::sync::oneshot;

use crate::entry::Columns;
use crate::migrate;
use crate::sql;
use crate::sql_store::{Answer, Param, Stmt};
use crate::writer_queue::WriterQueue;

/// How long a statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// What the writer thread does for one request.
enum Job {
    Run(Stmt, Vec<Param>),
    /// Answered once everything queued before it is committed.
    Flush,
}

struct Request {
    job: Job,
    /// `None`: queued without waiting; a failure is logged by the thread.
    reply: Option<oneshot::Sender<Result<Answer, String>>>,
}

impl Request {
    fn writes(&self) -> bool {
        matches!(&self.job, Job::Run(stmt, _) if !stmt.reads_only())
    }

    fn answer(self, answer: Result<Answer, String>) {
        match (self.reply, self.job) {
            (Some(reply), _) => {
                let _ = reply.send(answer);
            }
            (None, Job::Run(stmt, params)) => match answer {
                Err(err) => tracing::error!(
                    statement = ?stmt,
                    error = %err,
                    "a journal record queued without waiting failed; `suppliers reconcile` settles its purchase"
                ),
                Ok(Answer::Changed(0)) => tracing::warn!(
                    statement = ?stmt,
                    reference = ?params.get(1),
                    "a journal record queued without waiting found its entry held by another process"
                ),
                Ok(_) => {}
            },
            (None, Job::Flush) => {}
        }
    }
}

/// A handle on the journal's thread; the last handle's drop lets the thread finish
/// what is queued and waits for it.
#[derive(Clone)]
pub(crate) struct Sqlite {
    writer: Arc<Writer>,
}

struct Writer {
    requests: Arc<WriterQueue<Request>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has committed what is queued:
        // records queued without waiting are not lost when the journal is dropped.
        self.requests.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Sqlite {
    /// Opens `path` (`None`: in memory), applies missing migrations and returns the
    /// schema version found.
    pub(crate) async fn open(path: Option<PathBuf>) -> Result<(Self, Option<i64>), String> {
        let (ready, opened) = oneshot::channel();
        let requests = Arc::new(WriterQueue::new());
        let incoming = requests.clone();
        let thread = std::thread::Builder::new()
            .name("suppliers-journal".into())
            .spawn(move || match connect(path.as_ref()) {
                Ok((conn, version)) => {
                    let _ = ready.send(Ok(version));
                    serve(&conn, &incoming);
                }
                Err(err) => {
                    let _ = ready.send(Err(err.to_string()));
                }
            })
            .map_err(|e| e.to_string())?;
        let writer = Writer {
            requests,
            thread: Some(thread),
        };
        let version = opened
            .await
            .map_err(|_| "the journal thread ended".to_owned())??;
        Ok((
            Self {
                writer: Arc::new(writer),
            },
            version,
        ))
    }

    async fn ask(&self, job: Job) -> Result<Answer, String> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            job,
            reply: Some(reply),
        };
        if !self.writer.requests.push_waited(request) {
            return Err("the journal is closed".to_owned());
        }
        answer
            .await
            .map_err(|_| "the journal thread ended".to_owned())?
    }

    /// Runs one statement in the next group commit.
    pub(crate) async fn run(&self, stmt: Stmt, params: Vec<Param>) -> Result<Answer, String> {
        self.ask(Job::Run(stmt, params)).await
    }

    /// Queues one statement after everything queued so far and returns at once.
    pub(crate) fn queue(&self, stmt: Stmt, params: Vec<Param>) -> Result<(), String> {
        let request = Request {
            job: Job::Run(stmt, params),
            reply: None,
        };
        match self.writer.requests.push_quietly(request) {
            true => Ok(()),
            false => Err("the journal is closed".to_owned()),
        }
    }

    /// Waits until everything queued before it is committed.
    pub(crate) async fn flush(&self) -> Result<(), String> {
        self.ask(Job::Flush).await.map(drop)
    }
}

fn connect(path: Option<&PathBuf>) -> rusqlite::Result<(Connection, Option<i64>)> {
    let conn = match path {
        Some(path) => {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            // WAL: readers never block the writer. FULL (below): a commit is on disk
            // before it is answered, even if the machine loses power.
            enable_wal(&conn)?;
            conn
        }
        None => Connection::open_in_memory()?,
    };
    conn.pragma_update(None, "synchronous", "FULL")?;
    let version = migrate::sqlite(&conn)?;
    Ok((conn, version))
}

/// Switches the file to WAL, retrying until [`BUSY_TIMEOUT`]: when several processes
/// open a new journal at once, SQLite answers the switch `SQLITE_BUSY` at once,
/// without waiting in its busy handler (each connection holds a lock the other needs).
fn enable_wal(conn: &Connection) -> rusqlite::Result<()> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(err, _))
                if err.code == ErrorCode::DatabaseBusy && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            done => return done,
        }
    }
}

fn serve(conn: &Connection, incoming: &WriterQueue<Request>) {
    let sql: Vec<String> = Stmt::ALL
        .iter()
        .map(|stmt| stmt.text(&sql::SQLITE).replace('$', "?"))
        .collect();
    let work = |job: &Job| match job {
        Job::Run(stmt, params) => run(conn, &sql[*stmt as usize], *stmt, params),
        Job::Flush => Ok(Answer::Done),
    };
    while let Some(mut batch) = incoming.next_batch() {
        // What comes before the batch's first write sees only committed rows: it is
        // answered now, without waiting for the commit (and its fsync).
        let first_write = batch
            .iter()
            .position(Request::writes)
            .unwrap_or(batch.len());
        let writes = batch.split_off(first_write);
        for request in batch {
            let answer = work(&request.job);
            request.answer(answer);
        }
        if writes.is_empty() {
            continue;
        }
        if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
            for request in writes {
                request.answer(Err(err.to_string()));
            }
            continue;
        }
        let answers: Vec<Result<Answer, String>> = writes.iter().map(|r| work(&r.job)).collect();
        match conn.execute_batch("COMMIT") {
            Ok(()) => {
                for (request, answer) in writes.into_iter().zip(answers) {
                    request.answer(answer);
                }
            }
            Err(err) => {
                let _ = conn.execute_batch("ROLLBACK");
                for request in writes {
                    request.answer(Err(format!("commit failed: {err}")));
                }
            }
        }
    }
}

fn run(conn: &Connection, sql: &str, stmt: Stmt, params: &[Param]) -> Result<Answer, String> {
    let failed = |e: rusqlite::Error| e.to_string();
    let mut statement = conn.prepare_cached(sql).map_err(failed)?;
    let values = rusqlite::params_from_iter(params.iter().map(value));
    match stmt {
        stmt if stmt.counts_changes() => {
            let rows = statement.execute(values).map_err(failed)?;
            Ok(Answer::Changed(rows as u64))
        }
        Stmt::KnownOrders => statement
            .query_map(values, |row| Ok((row.get(0)?, time(row, 1)?)))
            .map_err(failed)?
            .collect::<rusqlite::Result<_>>()
            .map(Answer::KnownOrders)
            .map_err(failed),
        _ => statement
            .query_map(values, columns)
            .map_err(failed)?
            .map(|row| row.map_err(failed).and_then(Columns::decode))
            .collect::<Result<_, _>>()
            .map(Answer::Entries),
    }
}

fn value(param: &Param) -> Value {
    match param {
        Param::Text(Some(text)) => Value::Text(text.clone()),
        Param::Int(value) => Value::Integer(*value),
        Param::Time(Some(time)) => Value::Text(encode_time(*time)),
        Param::Text(None) | Param::Time(None) => Value::Null,
    }
}

/// Fixed width, so that SQLite compares and sorts times as text correctly.
fn encode_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn time(row: &Row<'_>, index: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(index)?;
    parse_time(&text, index)
}

fn parse_time(text: &str, index: usize) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                index,
                rusqlite::types::Type::Text,
                Box::new(e),
            )
        })
}

fn columns(row: &Row<'_>) -> rusqlite::Result<Columns> {
    let time_at = |name: &str| time(row, row.as_ref().column_index(name)?);
    let optional_time = |name: &str| -> rusqlite::Result<Option<DateTime<Utc>>> {
        let index = row.as_ref().column_index(name)?;
        let text: Option<String> = row.get(index)?;
        text.map(|t| parse_time(&t, index)).transpose()
    };
    Ok(Columns {
        supplier: row.get("supplier")?,
        reference: row.get("reference")?,
        product_id: row.get("product_id")?,
        quantity: row.get("quantity")?,
        facts: row.get("facts")?,
        state: row.get("state")?,
        order_id: row.get("order_id")?,
        idempotency_key: row.get("idempotency_key")?,
        balance_before: row.get("balance_before")?,
        balance_currency: row.get("balance_currency")?,
        detail: row.get("detail")?,
        attempt: row.get("attempt")?,
        owner: row.get("owner")?,
        lease_until: optional_time("lease_until")?,
        started_at: time_at("started_at")?,
        updated_at: time_at("updated_at")?,
        fulfilment: row.get("fulfilment")?,
        fulfilment_detail: row.get("fulfilment_detail")?,
        settled_at: optional_time("settled_at")?,
        reported_at: optional_time("reported_at")?,
        report_attempts: row.get("report_attempts")?,
        report_error: row.get("report_error")?,
        taken_over_from: row.get("taken_over_from")?,
    })
}
