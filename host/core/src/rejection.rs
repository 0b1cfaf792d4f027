//! The exchange's refusals, read: a table from its messages (polymarket-clob-v2.md §7) to
//! the reason a strategy is given and what the host does next.

use crate::risk::RejectReason;

/// What the host does after a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Tell the strategy; nothing else.
    Drop,
    /// The host's tick for the token is stale: read the tick again, re-round the price
    /// (passive side) and send once more.
    Retick,
    /// Not enough collateral: shrink the order to what the balance allows and send once
    /// more (or drop it when that is below the minimum).
    ShrinkToBalance,
    /// An authentication, signature or account failure: repeated, it engages the kill
    /// switch (nothing will work until an operator looks).
    Escalate,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Text the exchange's message contains (case-insensitive).
    pub contains: &'static str,
    /// What the strategy is told.
    pub reason: RejectReason,
    /// What the host does.
    pub action: Action,
}

/// The table, first match wins.
pub const RULES: &[Rule] = &[
    Rule {
        contains: "breaks minimum tick size rule",
        reason: RejectReason::Tick,
        action: Action::Retick,
    },
    Rule {
        contains: "lower than the minimum",
        reason: RejectReason::MinSize,
        action: Action::Drop,
    },
    Rule {
        contains: "not enough balance",
        reason: RejectReason::InsufficientBalance,
        action: Action::ShrinkToBalance,
    },
    Rule {
        contains: "invalid post-only order: order crosses book",
        reason: RejectReason::WouldCross,
        action: Action::Drop,
    },
    Rule {
        contains: "crosses the book",
        reason: RejectReason::WouldCross,
        action: Action::Drop,
    },
    Rule {
        contains: "fok orders are fully filled or killed",
        reason: RejectReason::NotFillable,
        action: Action::Drop,
    },
    Rule {
        contains: "fak orders are partially filled or killed",
        reason: RejectReason::NotFillable,
        action: Action::Drop,
    },
    Rule {
        contains: "there are no matching orders",
        reason: RejectReason::NotFillable,
        action: Action::Drop,
    },
    Rule {
        contains: "market is not yet ready",
        reason: RejectReason::BookNotTradable,
        action: Action::Drop,
    },
    Rule {
        contains: "invalid signature",
        reason: RejectReason::InvalidIntent,
        action: Action::Escalate,
    },
    Rule {
        contains: "address of the api key",
        reason: RejectReason::InvalidIntent,
        action: Action::Escalate,
    },
    Rule {
        contains: "owner of the api key",
        reason: RejectReason::InvalidIntent,
        action: Action::Escalate,
    },
    Rule {
        contains: "unauthorized",
        reason: RejectReason::InvalidIntent,
        action: Action::Escalate,
    },
    Rule {
        contains: "closed only mode",
        reason: RejectReason::KillSwitch,
        action: Action::Escalate,
    },
    Rule {
        contains: "banned",
        reason: RejectReason::KillSwitch,
        action: Action::Escalate,
    },
    Rule {
        contains: "trading restricted in your region",
        reason: RejectReason::KillSwitch,
        action: Action::Escalate,
    },
    Rule {
        contains: "cancel-only",
        reason: RejectReason::BookNotTradable,
        action: Action::Drop,
    },
    Rule {
        contains: "post-only mode",
        reason: RejectReason::BookNotTradable,
        action: Action::Drop,
    },
    Rule {
        contains: "trading is currently disabled",
        reason: RejectReason::BookNotTradable,
        action: Action::Drop,
    },
    Rule {
        contains: "too many requests",
        reason: RejectReason::RateLimit,
        action: Action::Drop,
    },
    Rule {
        contains: "invalid expiration",
        reason: RejectReason::InvalidIntent,
        action: Action::Drop,
    },
    Rule {
        contains: "order_version_mismatch",
        reason: RejectReason::InvalidIntent,
        action: Action::Escalate,
    },
];

/// The reason and action for an exchange message (anything unknown: dropped as an
/// invalid intent, with the message logged by the caller).
pub fn classify(message: &str) -> (RejectReason, Action) {
    let m = message.to_ascii_lowercase();
    RULES
        .iter()
        .find(|r| m.contains(r.contains))
        .map_or((RejectReason::InvalidIntent, Action::Drop), |r| {
            (r.reason, r.action)
        })
}

/// The balance in a "not enough balance" message (`... -> balance: 12000000, order amount:
/// 15000000`), in micro-units.
pub fn available_balance(message: &str) -> Option<u64> {
    let rest = &message[message.find("balance: ")? + "balance: ".len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One real message per row (the exchange's words, §7 of the protocol notes).
    #[test]
    fn every_row_matches_its_exchange_message() {
        let cases: &[(&str, RejectReason, Action)] = &[
            (
                "order 0xab is invalid. Price (0.505) breaks minimum tick size rule: 0.01",
                RejectReason::Tick,
                Action::Retick,
            ),
            (
                "order 0xab is invalid. Size (1) lower than the minimum: 5",
                RejectReason::MinSize,
                Action::Drop,
            ),
            (
                "not enough balance / allowance: the balance is not enough -> balance: 0, order amount: 10000000",
                RejectReason::InsufficientBalance,
                Action::ShrinkToBalance,
            ),
            (
                "invalid post-only order: order crosses book",
                RejectReason::WouldCross,
                Action::Drop,
            ),
            (
                "order 0xab crosses the book",
                RejectReason::WouldCross,
                Action::Drop,
            ),
            (
                "order couldn't be fully filled. FOK orders are fully filled or killed.",
                RejectReason::NotFillable,
                Action::Drop,
            ),
            (
                "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found.",
                RejectReason::NotFillable,
                Action::Drop,
            ),
            (
                "there are no matching orders",
                RejectReason::NotFillable,
                Action::Drop,
            ),
            (
                "the market is not yet ready to process new orders",
                RejectReason::BookNotTradable,
                Action::Drop,
            ),
            (
                "invalid signature",
                RejectReason::InvalidIntent,
                Action::Escalate,
            ),
            (
                "the order signer address has to be the address of the API KEY",
                RejectReason::InvalidIntent,
                Action::Escalate,
            ),
            (
                "the order owner has to be the owner of the API KEY",
                RejectReason::InvalidIntent,
                Action::Escalate,
            ),
            (
                "Unauthorized/Invalid api key",
                RejectReason::InvalidIntent,
                Action::Escalate,
            ),
            (
                "'0xab' address in closed only mode",
                RejectReason::KillSwitch,
                Action::Escalate,
            ),
            (
                "'0xab' address banned",
                RejectReason::KillSwitch,
                Action::Escalate,
            ),
            (
                "Trading restricted in your region, please refer to available regions",
                RejectReason::KillSwitch,
                Action::Escalate,
            ),
            (
                "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed.",
                RejectReason::BookNotTradable,
                Action::Drop,
            ),
            (
                "post-only mode: only post-only orders and cancels are allowed",
                RejectReason::BookNotTradable,
                Action::Drop,
            ),
            (
                "Trading is currently disabled. Check polymarket.com for updates",
                RejectReason::BookNotTradable,
                Action::Drop,
            ),
            ("Too Many Requests", RejectReason::RateLimit, Action::Drop),
            (
                "invalid expiration",
                RejectReason::InvalidIntent,
                Action::Drop,
            ),
            (
                "order_version_mismatch",
                RejectReason::InvalidIntent,
                Action::Escalate,
            ),
            (
                "could not insert order",
                RejectReason::InvalidIntent,
                Action::Drop,
            ),
        ];
        for (message, reason, action) in cases {
            assert_eq!(classify(message), (*reason, *action), "{message}");
        }
        // Every row is exercised by a case above.
        for rule in RULES {
            assert!(
                cases
                    .iter()
                    .any(|(m, _, _)| m.to_ascii_lowercase().contains(rule.contains)),
                "no case for `{}`",
                rule.contains
            );
        }
    }

    #[test]
    fn the_available_balance_is_read_from_the_message() {
        assert_eq!(
            available_balance(
                "not enough balance / allowance: the balance is not enough -> balance: 12000000, order amount: 15000000"
            ),
            Some(12_000_000)
        );
        assert_eq!(available_balance("not enough balance / allowance"), None);
    }
}
