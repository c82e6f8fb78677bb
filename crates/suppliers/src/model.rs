//! One order model for all three suppliers.

use std::fmt;

use rust_decimal::Decimal;

/// Which supplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SupplierId {
    /// FoxReload.
    FoxReload,
    /// MousaCard.
    MousaCard,
    /// Cryptorefills.
    Cryptorefills,
}

impl SupplierId {
    /// All three.
    pub const ALL: [SupplierId; 3] = [Self::FoxReload, Self::MousaCard, Self::Cryptorefills];

    /// Lowercase name, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FoxReload => "foxreload",
            Self::MousaCard => "mousacard",
            Self::Cryptorefills => "cryptorefills",
        }
    }
}

impl fmt::Display for SupplierId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SupplierId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|id| id.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown supplier {s:?}: expected foxreload, mousacard or cryptorefills")
            })
    }
}

/// An order's state, the same words for every supplier. The supplier's own value is
/// kept beside it in [`Order::supplier_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Created, not started (MousaCard `pending`, Cryptorefills `Created`).
    Pending,
    /// Waiting for the buyer's payment (FoxReload `active`, Cryptorefills
    /// `WaitingForPayment`, `PaymentStarted`, `PartialPaymentStarted`).
    AwaitingPayment,
    /// Paid and being fulfilled.
    Processing,
    /// Fulfilled: codes or account details are available.
    Completed,
    /// Not fulfilled.
    Failed,
    /// Cancelled (MousaCard `cancelled`, Cryptorefills `Canceled`).
    Cancelled,
    /// The payment window closed (Cryptorefills `Expired`).
    Expired,
    /// Money returned (Cryptorefills `Refunded`).
    Refunded,
    /// A value this SDK does not know yet.
    Unknown,
}

impl OrderStatus {
    /// snake_case name, as in the CLI's JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::AwaitingPayment => "awaiting_payment",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Refunded => "refunded",
            Self::Unknown => "unknown",
        }
    }

    /// True once the order cannot change any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Cancelled | Self::Expired | Self::Refunded
        )
    }

    /// FoxReload's `active`, `paid`, `processing`, `completed`, `failed`, `cancelled`.
    pub fn from_foxreload(status: &foxreload::types::OrderStatus) -> Self {
        use foxreload::types::OrderStatus as S;
        match status {
            S::Active => Self::AwaitingPayment,
            S::Paid | S::Processing => Self::Processing,
            S::Completed => Self::Completed,
            S::Failed => Self::Failed,
            S::Cancelled => Self::Cancelled,
            // Non-exhaustive: a state the spec adds later is `Unknown` until mapped here.
            S::Unknown(_) | _ => Self::Unknown,
        }
    }

    /// MousaCard's `pending`, `processing`, `completed`, `rejected`, `cancelled`.
    pub fn from_mousacard(status: &str) -> Self {
        match status {
            "pending" => Self::Pending,
            "processing" => Self::Processing,
            "completed" => Self::Completed,
            "rejected" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => Self::Unknown,
        }
    }

    /// Cryptorefills' order states.
    pub fn from_cryptorefills(status: &cryptorefills::types::OrderState) -> Self {
        use cryptorefills::types::OrderState as S;
        match status {
            S::Created => Self::Pending,
            S::WaitingForPayment | S::PaymentStarted | S::PartialPaymentStarted => {
                Self::AwaitingPayment
            }
            S::PaymentReceived | S::WaitingForDelivery | S::WaitingForManualAction => {
                Self::Processing
            }
            S::Done | S::Completed => Self::Completed,
            S::PaymentFailed | S::PaymentSetupFailed => Self::Failed,
            S::Expired => Self::Expired,
            S::Canceled | S::Cancelled => Self::Cancelled,
            S::Refunded => Self::Refunded,
            // Non-exhaustive: a state the spec adds later is `Unknown` until mapped here.
            S::Unknown(_) | _ => Self::Unknown,
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an order delivered. `Debug` redacts every secret.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Delivery {
    /// Codes, keys or PINs (for Cryptorefills, each redemption's `code`).
    pub codes: Vec<String>,
    /// Account details of a subscription (MousaCard).
    pub account: Option<SubscriptionAccount>,
    /// Cryptorefills: each code with what redeeming it takes.
    pub redemptions: Vec<Redemption>,
    /// Cryptorefills: each delivery's own state (`delivery_state`), in order.
    pub states: Vec<String>,
    /// FoxReload: what a line delivered that is not a code, kept as sent: activation
    /// data as JSON objects (eSIMs), in order. Codes sent as strings are in `codes`.
    pub activation_data: Vec<serde_json::Value>,
}

/// One delivered code and what redeeming it takes (Cryptorefills' deliverable).
/// `Debug` shows none of it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Redemption {
    /// `pin_code`: the code, sometimes a redemption URL.
    pub code: String,
    /// `pin_serial`.
    pub serial: Option<String>,
    /// `security_code`.
    pub security_code: Option<String>,
    /// `barcode_image_url`.
    pub barcode_url: Option<String>,
    /// `redeem_instructions` (HTML).
    pub instructions: Option<String>,
}

impl fmt::Debug for Redemption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redemption { <redacted> }")
    }
}

impl Delivery {
    /// True when nothing was delivered (yet).
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty() && self.account.is_none() && self.activation_data.is_empty()
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("codes", &format_args!("<{} redacted>", self.codes.len()))
            .field("account", &self.account.as_ref().map(|_| "<redacted>"))
            .field(
                "redemptions",
                &format_args!("<{} redacted>", self.redemptions.len()),
            )
            .field(
                "activation_data",
                &format_args!("<{} redacted>", self.activation_data.len()),
            )
            .finish()
    }
}

/// A subscription's account details. `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SubscriptionAccount {
    /// Login email.
    pub email: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Where to log in.
    pub url: Option<String>,
    /// Notes (validity...).
    pub notes: Option<String>,
}

impl fmt::Debug for SubscriptionAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubscriptionAccount { <redacted> }")
    }
}

/// An order, from any supplier.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// Which supplier.
    pub supplier: SupplierId,
    /// The supplier's order id.
    pub id: String,
    /// Normalised status.
    pub status: OrderStatus,
    /// The supplier's own status value.
    pub supplier_status: String,
    /// Total price, when known.
    pub total: Option<Decimal>,
    /// Currency of `total` (code or symbol, as the supplier sends it).
    pub currency: Option<String>,
    /// What was delivered.
    pub delivery: Delivery,
    /// Cryptorefills: the wallet address to pay and the exact coin amount.
    pub payment: Option<CryptoPayment>,
    /// FoxReload: the `idempotencyKey` the order was created with (set on orders this
    /// SDK bought; FoxReload's order answers do not carry it).
    pub idempotency_key: Option<String>,
}

/// Where and how much to pay for a crypto order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoPayment {
    /// Wallet address.
    pub address: String,
    /// Exact amount of `coin`.
    pub amount: Option<Decimal>,
    /// Coin, e.g. USDC.
    pub coin: Option<String>,
    /// Network, e.g. Solana.
    pub network: Option<String>,
    /// What a wallet's QR code holds (`solana:...`, `lightning:...`).
    pub qr_text: Option<String>,
    /// When the payment window closes.
    pub pay_before: Option<chrono::DateTime<chrono::Utc>>,
    /// The supplier's payment state (Cryptorefills `payment_state`, e.g. `WalletCreated`).
    pub state: Option<String>,
}

/// A product, from any supplier's catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// Which supplier.
    pub supplier: SupplierId,
    /// The id to order with.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Unit price, when the supplier gives one.
    pub price: Option<Decimal>,
    /// Currency of `price`.
    pub currency: Option<String>,
    /// Whether it can be bought now.
    pub available: bool,
    /// Quantity bounds, when known.
    pub min_quantity: Option<u64>,
    /// Quantity bounds, when known.
    pub max_quantity: Option<u64>,
    /// Fields a purchase must give (FoxReload `requiredNoteFields`, MousaCard custom
    /// fields), as `--field KEY=VALUE`.
    pub required_fields: Vec<String>,
    /// Cryptorefills range products: the face values that can be bought
    /// (`BuyRequest::amount`).
    pub amount_range: Option<AmountRange>,
}

/// The face values a range product sells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountRange {
    /// Smallest amount.
    pub min: Decimal,
    /// Largest amount.
    pub max: Decimal,
    /// Amounts go from `min` in steps of this, when the supplier says.
    pub step: Option<Decimal>,
    /// Currency of the amounts.
    pub currency: Option<String>,
}

impl AmountRange {
    /// Whether `amount` can be bought: within the bounds and on a step.
    pub fn allows(&self, amount: Decimal) -> bool {
        let on_step = match self.step {
            Some(step) if !step.is_zero() => ((amount - self.min) % step).is_zero(),
            _ => true,
        };
        amount >= self.min && amount <= self.max && on_step
    }
}

/// What a purchase will cost in crypto (Cryptorefills' price endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// Which supplier.
    pub supplier: SupplierId,
    /// Exact coin amount to pay.
    pub coin_amount: Decimal,
    /// Coin, e.g. USDC.
    pub coin: String,
    /// Face value quoted, in `currency`.
    pub face_value: Option<Decimal>,
    /// Fiat currency of the face value.
    pub currency: Option<String>,
}

/// An account balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// Which supplier.
    pub supplier: SupplierId,
    /// Amount.
    pub amount: Decimal,
    /// Currency code or symbol.
    pub currency: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_state_maps() {
        use cryptorefills::types::OrderState;
        use foxreload::types::OrderStatus as Fox;
        for value in Fox::KNOWN {
            assert_ne!(
                OrderStatus::from_foxreload(&Fox::from(*value)),
                OrderStatus::Unknown,
                "{value}"
            );
        }
        for value in [
            "pending",
            "processing",
            "completed",
            "rejected",
            "cancelled",
        ] {
            assert_ne!(
                OrderStatus::from_mousacard(value),
                OrderStatus::Unknown,
                "{value}"
            );
        }
        for value in OrderState::KNOWN {
            assert_ne!(
                OrderStatus::from_cryptorefills(&OrderState::from(*value)),
                OrderStatus::Unknown,
                "{value}"
            );
        }
        assert_eq!(
            OrderStatus::from_cryptorefills(&OrderState::from("Teleported")),
            OrderStatus::Unknown
        );
    }

    #[test]
    fn delivery_debug_redacts_codes_and_accounts() {
        let delivery = Delivery {
            codes: vec!["ABCD-1234".into()],
            account: Some(SubscriptionAccount {
                email: Some("a@b.c".into()),
                password: Some("hunter2".into()),
                url: None,
                notes: None,
            }),
            redemptions: vec![Redemption {
                code: "ABCD-1234".into(),
                serial: Some("SERIAL-77".into()),
                security_code: Some("CVV-321".into()),
                barcode_url: None,
                instructions: None,
            }],
            states: vec!["Done".into()],
            activation_data: vec![serde_json::json!({"code": "LPA:1$smdp.example$SECRET-77"})],
        };
        let shown = format!("{delivery:?}");
        assert!(
            !shown.contains("SERIAL-77") && !shown.contains("CVV-321"),
            "{shown}"
        );
        assert!(
            !shown.contains("LPA") && shown.contains("activation_data: <1 redacted>"),
            "{shown}"
        );
        assert!(
            !shown.contains("ABCD") && !shown.contains("hunter2") && !shown.contains("a@b.c"),
            "{shown}"
        );
    }
}
