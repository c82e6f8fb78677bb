//! The sandbox's own books: every order each supplier holds and what it charged, for
//! audits that must not trust the SDK's account of itself (the chaos run compares them
//! with the purchase journal).

use rust_decimal::Decimal;

/// One order as a supplier's books hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookedOrder {
    /// The supplier's order id.
    pub id: String,
    /// The key the order was created under (FoxReload's `idempotencyKey`), if any.
    pub idempotency_key: Option<String>,
    /// What it costs: FoxReload's and MousaCard's total in USD, Cryptorefills' face
    /// value in the card's currency.
    pub total: Decimal,
    /// Money moved for it: FoxReload paid it from the balance, MousaCard charged the
    /// balance at creation, a Cryptorefills customer paid its wallet address.
    pub charged: bool,
    /// The charge was given back (a failed order refunded) by now.
    pub refunded: bool,
}

/// A supplier's books at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Books {
    /// The account balance the sandbox started with; `None` for Cryptorefills, paid per
    /// order.
    pub starting_balance: Option<Decimal>,
    /// The balance now; `None` for Cryptorefills.
    pub balance: Option<Decimal>,
    /// Every order, in creation order.
    pub orders: Vec<BookedOrder>,
}

impl Books {
    /// What the orders account for: the totals charged and not refunded.
    pub fn net_charged(&self) -> Decimal {
        self.orders
            .iter()
            .filter(|order| order.charged && !order.refunded)
            .map(|order| order.total)
            .sum()
    }

    /// The balance change the orders do not account for (zero when the books balance;
    /// `None` for Cryptorefills).
    pub fn unexplained_balance_change(&self) -> Option<Decimal> {
        Some(self.starting_balance? - self.balance? - self.net_charged())
    }
}
