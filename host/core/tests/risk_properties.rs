//! Property test: random books, intents, fills, cancels and clock jumps across days,
//! through the desk (books, gate, paper venue, portfolio, ledger: the kernel's whole
//! domain). After every step no limit is exceeded, whatever was accepted before.

// Test helpers unwrap: a panic is a failing test with its message.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use polybox_core::book::Level;
use polybox_core::desk::{Desk, MarketMeta};
use polybox_core::fees::FeeSchedule;
use polybox_core::ids::{OrderId, StrategyId, TokenId};
use polybox_core::kill_switch::KillSwitch;
use polybox_core::market_message::{BookSnapshot, MarketMessage, PriceChange};
use polybox_core::money::{Price, Size, Usdc};
use polybox_core::order::{Intent, Side, TimeInForce};
use polybox_core::risk::{Budget, Gate, Limits};
use proptest::prelude::*;

const TOKENS: [&str; 3] = ["A", "B", "C"];
const TICK: u32 = 10_000;

#[derive(Debug, Clone)]
enum Op {
    Book {
        token: usize,
        mid: u32,
        spread: u32,
        size: u64,
    },
    Change {
        token: usize,
        buy: bool,
        ticks: u32,
        size: u64,
    },
    Trade {
        token: usize,
        ticks: u32,
        size: u64,
    },
    Submit {
        strategy: u32,
        token: usize,
        buy: bool,
        ticks: u32,
        size: u64,
        tif: u8,
        post_only: bool,
    },
    Cancel {
        strategy: u32,
        nth: usize,
    },
    Jump {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..3usize, 5..95u32, 1..6u32, 1..400u64).prop_map(|(token, mid, spread, size)| Op::Book { token, mid, spread, size }),
        2 => (0..3usize, any::<bool>(), 1..99u32, 0..300u64).prop_map(|(token, buy, ticks, size)| Op::Change { token, buy, ticks, size }),
        1 => (0..3usize, 1..99u32, 1..100u64).prop_map(|(token, ticks, size)| Op::Trade { token, ticks, size }),
        4 => (0..2u32, 0..3usize, any::<bool>(), 1..99u32, 1..60u64, 0..3u8, any::<bool>())
            .prop_map(|(strategy, token, buy, ticks, size, tif, post_only)| Op::Submit { strategy, token, buy, ticks, size, tif, post_only }),
        1 => (0..2u32, 0..6usize).prop_map(|(strategy, nth)| Op::Cancel { strategy, nth }),
        1 => prop_oneof![1..5_000u64, 3_600_000..30 * 3_600_000u64].prop_map(|ms| Op::Jump { ms }),
    ]
}

fn usdc(s: &str) -> Usdc {
    Usdc::parse(s).unwrap()
}

fn limits() -> Limits {
    Limits {
        capital_usdc: usdc("25"),
        max_daily_loss_usdc: usdc("0.6"),
        max_order_usdc: usdc("15"),
        max_positions: 2,
        max_consecutive_losses: 4,
        ..Limits::default()
    }
}

fn budget() -> Budget {
    Budget {
        max_exposure_usdc: Some(usdc("20")),
        max_daily_loss_usdc: Some(usdc("0.3")),
        max_open_orders: Some(3),
        ..Budget::default()
    }
}

fn desk() -> Desk {
    let mut gate = Gate::new(limits(), KillSwitch::new("/nonexistent/polybox/kill"));
    gate.set_budget(StrategyId(0), budget());
    let mut d = Desk::new(gate, Price::from_micros(TICK), Size::from_micros(1_000_000));
    for (i, t) in TOKENS.iter().enumerate() {
        d.add_market(MarketMeta {
            token: TokenId::new(t),
            condition: format!("0x{i}"),
            complement: None,
            fees: FeeSchedule {
                rate_bps: [0, 400, 1_000][i],
                exponent: 1,
            },
            tick: Price::from_micros(TICK),
            min_size: Size::from_micros(1_000_000),
            neg_risk: false,
        });
    }
    for s in 0..2 {
        d.grant(StrategyId(s), TOKENS.iter().map(|t| TokenId::new(t)));
    }
    d.set_now(1_795_650_000_000);
    d
}

fn shares(n: u64) -> Size {
    Size::from_micros(n * 1_000_000)
}

fn px(ticks: u32) -> Price {
    Price::from_micros(ticks * TICK)
}

/// Every limit, checked on the desk as it is now.
fn assert_within_limits(d: &Desk) {
    let l = limits();
    let b = budget();
    let held: BTreeSet<&TokenId> = d.all_positions().map(|(_, t, _)| t).collect();
    assert!(held.len() as u32 <= l.max_positions, "positions {held:?}");
    let ledger = d.gate().ledger();
    assert!(
        -ledger.realized_today() <= l.max_daily_loss_usdc,
        "daily loss {}",
        ledger.realized_today()
    );
    assert!(
        -ledger.strategy_today(StrategyId(0)) <= b.max_daily_loss_usdc.unwrap(),
        "strategy 0 daily loss {}",
        ledger.strategy_today(StrategyId(0))
    );
    let cost: Usdc = d.positions(StrategyId(0)).map(|(_, p)| p.cost).sum();
    let open_buys: Usdc = d
        .open_orders(StrategyId(0))
        .filter(|o| o.side == Side::Buy)
        .map(|o| Usdc::notional(o.price, o.remaining()))
        .sum();
    assert!(
        cost + open_buys <= b.max_exposure_usdc.unwrap(),
        "strategy 0 exposure {cost} + {open_buys}"
    );
    assert!(d.open_orders(StrategyId(0)).count() as u32 <= b.max_open_orders.unwrap());
    assert!(
        !d.cash().unwrap().is_negative(),
        "cash {}",
        d.cash().unwrap()
    );
}

fn run(ops: &[Op]) {
    let mut d = desk();
    let mut ids: Vec<Vec<OrderId>> = vec![Vec::new(), Vec::new()];
    for op in ops {
        let now = d.now();
        match op.clone() {
            Op::Book {
                token,
                mid,
                spread,
                size,
            } => {
                let (bid, ask) = (mid.saturating_sub(spread).max(1), (mid + spread).min(99));
                let levels = |from: u32, step: i32| {
                    (0..3)
                        .map(|k| from as i32 + step * k)
                        .filter(|t| (1..100).contains(t))
                        .map(|t| Level {
                            price: px(t as u32),
                            size: shares(size),
                        })
                        .collect::<Vec<_>>()
                };
                d.apply(&MarketMessage::Book(BookSnapshot {
                    token: TokenId::new(TOKENS[token]),
                    condition: "".into(),
                    ts: now,
                    bids: levels(bid, -1),
                    asks: levels(ask, 1),
                    tick: None,
                    min_size: None,
                    neg_risk: None,
                }));
            }
            Op::Change {
                token,
                buy,
                ticks,
                size,
            } => {
                d.apply(&MarketMessage::PriceChange {
                    condition: "".into(),
                    ts: now,
                    changes: [PriceChange {
                        token: TokenId::new(TOKENS[token]),
                        side: if buy { Side::Buy } else { Side::Sell },
                        price: px(ticks),
                        size: shares(size),
                    }]
                    .into_iter()
                    .collect(),
                });
            }
            Op::Trade { token, ticks, size } => {
                d.apply(&MarketMessage::LastTrade {
                    token: TokenId::new(TOKENS[token]),
                    condition: "".into(),
                    ts: now,
                    price: px(ticks),
                    size: shares(size),
                    side: Side::Buy,
                    fee_rate_bps: None,
                });
            }
            Op::Submit {
                strategy,
                token,
                buy,
                ticks,
                size,
                tif,
                post_only,
            } => {
                let intent = Intent {
                    strategy: StrategyId(strategy),
                    token: TokenId::new(TOKENS[token]),
                    side: if buy { Side::Buy } else { Side::Sell },
                    price: px(ticks),
                    size: shares(size),
                    tif: [TimeInForce::Gtc, TimeInForce::Fak, TimeInForce::Fok][tif as usize],
                    post_only,
                };
                let notional = intent.notional();
                if let Ok(id) = d.submit(intent) {
                    assert!(notional <= limits().max_order_usdc, "accepted {notional}");
                    ids[strategy as usize].push(id);
                }
            }
            Op::Cancel { strategy, nth } => {
                let open: Vec<OrderId> =
                    d.open_orders(StrategyId(strategy)).map(|o| o.id).collect();
                if let Some(id) = open.get(nth) {
                    d.cancel(StrategyId(strategy), *id).unwrap();
                }
            }
            Op::Jump { ms } => d.set_now(now + ms),
        }
        d.take_updates();
        assert_within_limits(&d);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn no_sequence_of_events_breaks_a_limit(ops in proptest::collection::vec(op(), 1..120)) {
        run(&ops);
    }
}
