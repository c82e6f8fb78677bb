//! What the CLI prints: one JSON value on stdout with `--json`, aligned text otherwise.

use serde_json::{Value, json};
use suppliers::journal::Entry;
use suppliers::model::{Balance, Order, Product, Quote};
use suppliers::reconcile::Reconciled;

/// An order as `--json` prints it. Money is a decimal string.
pub fn order_json(order: &Order) -> Value {
    json!({
        "supplier": order.supplier.as_str(),
        "id": order.id,
        "status": order.status.as_str(),
        "supplier_status": order.supplier_status,
        "codes": order.delivery.codes,
        "account": order.delivery.account.as_ref().map(|a| json!({
            "email": a.email, "password": a.password, "url": a.url, "notes": a.notes
        })),
        "total": order.total.map(|t| t.to_string()),
        "currency": order.currency,
        "payment": order.payment.as_ref().map(|p| json!({
            "address": p.address,
            "amount": p.amount.map(|a| a.to_string()),
            "coin": p.coin,
            "network": p.network,
            "qr_text": p.qr_text,
            "state": p.state,
            "pay_before": p.pay_before.map(|t| t.to_rfc3339()),
        })),
        "redemptions": order.delivery.redemptions.iter().map(|r| json!({
            "code": r.code,
            "serial": r.serial,
            "security_code": r.security_code,
            "barcode_url": r.barcode_url,
            "instructions": r.instructions,
        })).collect::<Vec<_>>(),
        "delivery_states": order.delivery.states,
        "activation_data": order.delivery.activation_data,
        "idempotency_key": order.idempotency_key,
    })
}

/// An order for a person: status, total, payment instructions, and codes last.
pub fn order_text(order: &Order) -> String {
    let mut out = format!(
        "{} order {}: {} ({})\n",
        order.supplier, order.id, order.status, order.supplier_status
    );
    if let Some(total) = order.total {
        out += &format!(
            "total: {total} {}\n",
            order.currency.as_deref().unwrap_or("")
        );
    }
    if let Some(payment) = &order.payment
        && order.status == suppliers::model::OrderStatus::AwaitingPayment
    {
        out += &format!(
            "pay {} {} on {} to {}\n",
            payment.amount.map(|a| a.to_string()).unwrap_or_default(),
            payment.coin.as_deref().unwrap_or(""),
            payment.network.as_deref().unwrap_or(""),
            payment.address
        );
        if let Some(before) = payment.pay_before {
            out += &format!("pay before {}\n", before.to_rfc3339());
        }
    }
    if !order.delivery.codes.is_empty() {
        out += "codes:\n";
        for code in &order.delivery.codes {
            out += &format!("  {code}\n");
        }
    }
    for redemption in &order.delivery.redemptions {
        for (label, value) in [
            ("serial", &redemption.serial),
            ("security code", &redemption.security_code),
            ("barcode", &redemption.barcode_url),
        ] {
            if let Some(value) = value {
                out += &format!("  {} {label}: {value}\n", redemption.code);
            }
        }
    }
    if !order.delivery.activation_data.is_empty() {
        out += "activation data:\n";
        for data in &order.delivery.activation_data {
            out += &activation_text(data);
        }
    }
    if let Some(account) = &order.delivery.account {
        out += "account:\n";
        for (label, value) in [
            ("email", &account.email),
            ("password", &account.password),
            ("url", &account.url),
            ("notes", &account.notes),
        ] {
            if let Some(value) = value {
                out += &format!("  {label}: {value}\n");
            }
        }
    }
    out
}

/// One piece of activation data for a person: an object as `key: value` lines, the
/// first marked `-`; strings unquoted, other values as compact JSON.
fn activation_text(data: &Value) -> String {
    let shown = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let Value::Object(fields) = data else {
        return format!("  - {}\n", shown(data));
    };
    if fields.is_empty() {
        return "  - {}\n".into();
    }
    fields
        .iter()
        .enumerate()
        .map(|(index, (key, value))| {
            let mark = if index == 0 { "-" } else { " " };
            format!("  {mark} {key}: {}\n", shown(value))
        })
        .collect()
}

/// A product as `--json` prints it.
pub fn product_json(product: &Product) -> Value {
    json!({
        "supplier": product.supplier.as_str(),
        "id": product.id,
        "name": product.name,
        "price": product.price.map(|p| p.to_string()),
        "currency": product.currency,
        "available": product.available,
        "min_quantity": product.min_quantity,
        "max_quantity": product.max_quantity,
        "required_fields": product.required_fields,
        "amount_range": product.amount_range.as_ref().map(|r| json!({
            "min": r.min.to_string(),
            "max": r.max.to_string(),
            "step": r.step.map(|s| s.to_string()),
            "currency": r.currency,
        })),
    })
}

/// Products as an aligned table.
pub fn products_text(products: &[Product]) -> String {
    let rows: Vec<[String; 3]> = products
        .iter()
        .map(|p| {
            // A product the supplier lists without a price shows `-`.
            let price = p
                .price
                .map(|price| format!("{price} {}", p.currency.as_deref().unwrap_or("")))
                .unwrap_or_else(|| "-".into());
            [p.id.clone(), p.name.clone(), price]
        })
        .collect();
    table(["ID", "NAME", "PRICE"], &rows)
}

/// A balance as `--json` prints it.
pub fn balance_json(balance: &Balance) -> Value {
    json!({"supplier": balance.supplier.as_str(), "balance": balance.amount.to_string(), "currency": balance.currency})
}

/// A quote as `--json` prints it.
pub fn quote_json(quote: &Quote) -> Value {
    json!({
        "supplier": quote.supplier.as_str(),
        "coin_amount": quote.coin_amount.to_string(),
        "coin": quote.coin,
        "face_value": quote.face_value.map(|v| v.to_string()),
        "currency": quote.currency,
    })
}

/// Orders as an aligned table.
pub fn orders_text(orders: &[Order]) -> String {
    let rows: Vec<[String; 3]> = orders
        .iter()
        .map(|o| {
            let total = o
                .total
                .map(|t| format!("{t} {}", o.currency.as_deref().unwrap_or("")))
                .unwrap_or_default();
            [o.id.clone(), o.status.to_string(), total]
        })
        .collect();
    table(["ID", "STATUS", "TOTAL"], &rows)
}

fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out
}

/// `buy --json`: the order, with the reference it is journaled under and whether this
/// run sent nothing because the reference had bought already.
pub fn receipt_json(reference: &str, replayed: bool, order: &Order) -> Value {
    let mut value = order_json(order);
    value["reference"] = json!(reference);
    value["replayed"] = json!(replayed);
    value
}

/// A journal entry as `pending --json` prints it: no secrets are journaled.
pub fn entry_json(entry: &Entry, in_progress: bool) -> Value {
    json!({
        "reference": entry.reference,
        "supplier": entry.supplier,
        "product_id": entry.product_id,
        "quantity": entry.quantity,
        "state": entry.state.as_str(),
        "order_id": entry.order_id,
        "idempotency_key": entry.idempotency_key,
        "balance_before": entry.balance_before.map(|b| b.to_string()),
        "balance_currency": entry.balance_currency,
        "detail": entry.detail,
        "attempt": entry.attempt,
        "in_progress": in_progress,
        "owner": entry.owner,
        "started_at": entry.started_at.to_rfc3339(),
        "updated_at": entry.updated_at.to_rfc3339(),
        "fulfilment": entry.fulfilment.map(|f| f.as_str()),
        "fulfilment_detail": entry.fulfilment_detail,
        "report_attempts": entry.report_attempts,
        "report_error": entry.report_error,
        "age_seconds": (chrono::Utc::now() - entry.started_at).num_seconds(),
    })
}

/// How long ago `since` was, for a person: `42s`, `7m`, `3h`, `2d`.
fn age(since: chrono::DateTime<chrono::Utc>) -> String {
    let seconds = (chrono::Utc::now() - since).num_seconds().max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Pending purchases for a person, oldest first.
pub fn pending_text(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "nothing pending\n".into();
    }
    entries
        .iter()
        .map(|e| {
            format!(
                "{} {} {} x {} {}{}{}{} since {}{}\n",
                e.supplier,
                e.reference,
                e.quantity,
                e.product_id,
                e.state,
                e.fulfilment
                    .map(|f| format!(", goods {f} for {}", age(e.started_at)))
                    .unwrap_or_default(),
                match (&e.report_error, e.report_attempts) {
                    (Some(error), attempts) => {
                        format!(", report not accepted after {attempts} attempt(s): {error}")
                    }
                    (None, _) => String::new(),
                },
                e.order_id
                    .as_ref()
                    .map(|id| format!(" (order {id})"))
                    .unwrap_or_default(),
                e.started_at.to_rfc3339(),
                e.detail
                    .as_ref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// One line of `reconcile --json`: the entry after, its state before, and whether it
/// was settled (false: held by another live process, or its supplier not configured).
pub fn reconciled_json(line: &Reconciled) -> Value {
    json!({
        "reference": line.entry.reference,
        "supplier": line.entry.supplier,
        "product_id": line.entry.product_id,
        "quantity": line.entry.quantity,
        "before": line.before.as_str(),
        "state": line.entry.state.as_str(),
        "order_id": line.entry.order_id,
        "settled": line.settled,
        "how": line.entry.detail,
    })
}

/// Reconcile's report for a person: what each entry is now and how that is known.
pub fn reconciled_text(report: &[Reconciled]) -> String {
    if report.is_empty() {
        return "nothing to reconcile\n".into();
    }
    report
        .iter()
        .map(|line| {
            let e = &line.entry;
            let verb = if line.settled { "->" } else { "left" };
            format!(
                "{} {} {} {verb} {}: {}\n",
                e.supplier,
                e.reference,
                line.before,
                e.state,
                e.detail.as_deref().unwrap_or("")
            )
        })
        .collect()
}
