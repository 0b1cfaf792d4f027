//! The executor: turns the desk's commands into exchange calls and the exchange's answers
//! into [`ExecEvent`]s. It signs (no network once the client's caches are warm), posts,
//! cancels, and polls open orders and trades (the REST path that also settles orders
//! whose post had an unknown outcome). It holds no order state: the desk does, and the
//! kernel journals every change before the next request goes out.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;

use polybox_core::fees::FeeSchedule;
use polybox_core::ids::OrderId;
use polybox_core::money::{Price, Size, Usdc};
use polybox_core::order::TimeInForce;
use polybox_core::orders::{ExecEvent, OrderState, TradeStatus};
use polybox_core::venue::PlaceOrder;
use polymarket_client_sdk_v2::clob::types::request::{OrdersRequest, TradesRequest};
use polymarket_client_sdk_v2::clob::types::{
    OrderStatusType, OrderType, Side as SdkSide, TickSize, TradeStatusType, TraderSide,
};
use polymarket_client_sdk_v2::types::{Decimal, U256};

use super::exchange::{Exchange, ExchangeError, order_id};
use super::rate_limit::Class;

/// A signed order, ready to journal and post.
#[derive(Debug)]
pub struct Signed {
    /// Host id.
    pub id: OrderId,
    /// The exchange's id (EIP-712 digest).
    pub exchange_id: String,
    /// The body as it will be sent (for the journal).
    pub body: String,
    /// The limit price signed.
    pub price: Price,
    /// The size signed.
    pub size: Size,
}

/// An order the desk still considers working, for reconciliation.
#[derive(Debug, Clone)]
pub struct Working {
    /// Host id.
    pub id: OrderId,
    /// Exchange id.
    pub exchange_id: String,
    /// Its state in the desk.
    pub state: OrderState,
    /// When it was created, UTC ms.
    pub created_ms: u64,
    /// Some of it filled.
    pub filled: bool,
}

/// How long after sending an order its absence from the exchange means something: the
/// exchange (and the client's trade polling) may lag this much behind a post.
pub const SETTLE_GRACE_MS: u64 = 35_000;

fn trade_status(s: &TradeStatusType) -> Option<TradeStatus> {
    match s {
        TradeStatusType::Matched => Some(TradeStatus::Matched),
        TradeStatusType::Mined => Some(TradeStatus::Mined),
        TradeStatusType::Confirmed => Some(TradeStatus::Confirmed),
        TradeStatusType::Retrying => Some(TradeStatus::Retrying),
        TradeStatusType::Failed => Some(TradeStatus::Failed),
        TradeStatusType::Unknown(text) => TradeStatus::parse(text),
        _ => None,
    }
}

/// Talks to the exchange for the desk.
#[derive(Debug)]
pub struct Executor {
    exchange: Exchange,
    /// Signed bodies by host id, as journaled: posted and re-sent byte for byte.
    signed: Mutex<HashMap<OrderId, String>>,
}

fn micros_to_decimal(m: u64) -> Decimal {
    Decimal::new(i64::try_from(m).unwrap_or(i64::MAX), 6).normalize()
}

fn price(d: Decimal) -> Option<Price> {
    Price::parse(&d.to_string()).ok()
}

fn size(d: Decimal) -> Option<Size> {
    Size::parse(&d.to_string()).ok()
}

impl Executor {
    /// Over an authenticated exchange.
    pub fn new(exchange: Exchange) -> Executor {
        Executor {
            exchange,
            signed: Mutex::new(HashMap::new()),
        }
    }

    /// The exchange.
    pub fn exchange(&self) -> &Exchange {
        &self.exchange
    }

    fn signed(&self) -> std::sync::MutexGuard<'_, HashMap<OrderId, String>> {
        self.signed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Build and sign an order for `tick` and `neg_risk` (the market's facts).
    pub async fn sign(
        &self,
        p: &PlaceOrder,
        tick: Price,
        neg_risk: bool,
    ) -> Result<Signed, ExchangeError> {
        let local = |reason: String| ExchangeError::Local {
            what: format!("sign order {}", p.id),
            reason,
        };
        let client = self.exchange.client();
        let token = U256::from_str(p.token.as_str())
            .map_err(|_| local(format!("token id {} is not a uint256", p.token)))?;
        let tick_size = TickSize::try_from(micros_to_decimal(u64::from(tick.micros())))
            .map_err(|e| local(format!("tick {tick} is not one the exchange uses: {e}")))?;
        client.set_tick_size(token, tick_size);
        client.set_neg_risk(token, neg_risk);
        let mut builder = client
            .limit_order()
            .token_id(token)
            .side(match p.side {
                polybox_core::order::Side::Buy => SdkSide::Buy,
                polybox_core::order::Side::Sell => SdkSide::Sell,
            })
            .price(micros_to_decimal(u64::from(p.price.micros())))
            .size(micros_to_decimal(p.size.micros()))
            .order_type(match p.tif {
                TimeInForce::Gtc => OrderType::GTC,
                TimeInForce::Fak => OrderType::FAK,
                TimeInForce::Fok => OrderType::FOK,
            });
        if p.post_only {
            builder = builder.post_only(true);
        }
        let order = builder.build().await.map_err(|e| local(e.to_string()))?;
        let signed = client
            .sign(self.exchange.signer(), order)
            .await
            .map_err(|e| local(e.to_string()))?;
        let exchange_id =
            order_id(&signed, neg_risk).ok_or_else(|| local("not a V2 order".to_owned()))?;
        let body = serde_json::to_string(&signed).map_err(|e| local(e.to_string()))?;
        self.signed().insert(p.id, body.clone());
        Ok(Signed {
            id: p.id,
            exchange_id,
            body,
            price: p.price,
            size: p.size,
        })
    }

    /// Sign `p` again after a refusal: with the exchange's current tick (read afresh, the
    /// price re-rounded on the passive side) or at the size `available` micro-USDC allows.
    pub async fn resign(
        &self,
        mut p: PlaceOrder,
        mut tick: Price,
        retick: bool,
        available: Option<u64>,
        neg_risk: bool,
        min_size: Size,
    ) -> Result<Signed, ExchangeError> {
        let local = |reason: String| ExchangeError::Local {
            what: format!("retry order {}", p.id),
            reason,
        };
        let token = U256::from_str(p.token.as_str())
            .map_err(|_| local(format!("token id {} is not a uint256", p.token)))?;
        let client = self.exchange.client();
        if retick {
            client.invalidate_internal_caches();
            let t = self
                .exchange
                .call("GET /tick-size", Class::Read, false, |c| async move {
                    c.tick_size(token).await
                })
                .await?;
            tick = price(Decimal::from(t.minimum_tick_size))
                .ok_or_else(|| local("unreadable tick size".to_owned()))?;
            let (t, px) = (u64::from(tick.micros()), u64::from(p.price.micros()));
            let rounded = match p.side {
                polybox_core::order::Side::Buy => px / t * t,
                polybox_core::order::Side::Sell => px.div_ceil(t) * t,
            };
            p.price = Price::from_micros(
                u32::try_from(rounded).map_err(|_| local("price out of range".to_owned()))?,
            );
        } else if let Some(cash) = available {
            let shares = u128::from(cash) * 1_000_000 / u128::from(p.price.micros().max(1));
            let lots = u64::try_from(shares / 10_000 * 10_000).unwrap_or(0);
            if lots < min_size.micros() {
                return Err(local(format!(
                    "the balance allows {} shares, below the minimum {min_size}",
                    Size::from_micros(lots)
                )));
            }
            p.size = Size::from_micros(lots.min(p.size.micros()));
        }
        self.sign(&p, tick, neg_risk).await
    }

    /// Bodies of orders journaled before a restart, so they can be re-sent identically.
    pub fn restore_signed(&self, bodies: impl IntoIterator<Item = (OrderId, String)>) {
        self.signed().extend(bodies);
    }

    /// Post a signed order (journaled by now). Answers with what the exchange said.
    pub async fn post(&self, id: OrderId, exchange_id: &str) -> Vec<ExecEvent> {
        let Some(body) = self.signed().get(&id).cloned() else {
            return vec![ExecEvent::Unknown {
                id,
                reason: "its signed body is not at hand: left to reconciliation".to_owned(),
            }];
        };
        match self.exchange.post_body(&body, 1).await {
            Ok(answers) => match answers.first() {
                Some(a) if a.success && a.error_msg.as_deref().unwrap_or_default().is_empty() => {
                    vec![ExecEvent::Accepted {
                        exchange_id: exchange_id.to_owned(),
                    }]
                }
                // It already has it (the first attempt reached the book).
                Some(a)
                    if a.error_msg
                        .as_deref()
                        .unwrap_or_default()
                        .contains("Duplicated") =>
                {
                    vec![ExecEvent::Accepted {
                        exchange_id: exchange_id.to_owned(),
                    }]
                }
                Some(a) => vec![ExecEvent::Rejected {
                    id,
                    reason: a
                        .error_msg
                        .clone()
                        .unwrap_or_else(|| "refused without a reason".to_owned()),
                }],
                None => vec![ExecEvent::Unknown {
                    id,
                    reason: "empty answer".to_owned(),
                }],
            },
            Err(ExchangeError::Refused { message, .. }) if message.contains("Duplicated") => {
                vec![ExecEvent::Accepted {
                    exchange_id: exchange_id.to_owned(),
                }]
            }
            Err(ExchangeError::Unknown { reason, .. }) => vec![ExecEvent::Unknown { id, reason }],
            // Retries ran out on answers that do not prove the exchange did nothing.
            Err(ExchangeError::Unavailable { reason, .. })
                if reason.contains("order timed out") || reason.contains("HTTP 5") =>
            {
                vec![ExecEvent::Unknown { id, reason }]
            }
            Err(e) => vec![ExecEvent::Rejected {
                id,
                reason: e.to_string(),
            }],
        }
    }

    /// Cancel an order on the exchange.
    pub async fn cancel(&self, exchange_id: &str) -> Result<Vec<ExecEvent>, ExchangeError> {
        let id = exchange_id.to_owned();
        let answer = self
            .exchange
            // A cancel is safe to repeat (a second one is answered "not canceled").
            .call("DELETE /order", Class::Cancel, false, |c| {
                let id = id.clone();
                async move { c.cancel_order(&id).await }
            })
            .await?;
        for (id, why) in &answer.not_canceled {
            tracing::warn!(order = %id, "the exchange did not cancel it: {why}");
        }
        Ok(answer
            .canceled
            .into_iter()
            .map(|x| ExecEvent::Cancelled {
                exchange_id: x,
                reason: None,
            })
            .collect())
    }

    /// Everything the exchange knows about our orders: trades since `after_s` (unix
    /// seconds), open orders, and the fate of working orders that are no longer open
    /// (cancelled by the exchange, or never placed: those with an unknown outcome are
    /// posted again, identically).
    pub async fn poll(
        &self,
        working: &[Working],
        after_s: i64,
    ) -> Result<Vec<ExecEvent>, ExchangeError> {
        let mut events = self.poll_trades(after_s).await?;
        events.extend(self.poll_orders(working, &events).await?);
        Ok(events)
    }

    /// Our trades since `after_s` (unix seconds), all pages.
    pub async fn poll_trades(&self, after_s: i64) -> Result<Vec<ExecEvent>, ExchangeError> {
        let me = self.exchange.api_key();
        let mut events = Vec::new();
        let mut cursor: Option<String> = None;
        let trades_req = TradesRequest::builder().after(after_s).build();
        loop {
            let c = cursor.take();
            let page = self
                .exchange
                .call("GET /data/trades", Class::Read, false, |client| {
                    let c = c.clone();
                    let req = &trades_req;
                    async move { client.trades(req, c).await }
                })
                .await?;
            for t in &page.data {
                let Some(status) = trade_status(&t.status) else {
                    tracing::warn!(trade = %t.id, status = ?t.status, "a trade status the host does not know: not applied");
                    continue;
                };
                let rate = t.fee_rate_bps.to_string().parse::<u32>().unwrap_or(0);
                if t.trader_side == TraderSide::Taker && t.owner == me {
                    if let (Some(p), Some(s)) = (price(t.price), size(t.size)) {
                        let fee = FeeSchedule {
                            rate_bps: rate,
                            exponent: 1,
                        }
                        .taker_fee(p, s);
                        events.push(ExecEvent::Trade {
                            exchange_id: t.taker_order_id.clone(),
                            trade_id: t.id.clone(),
                            price: p,
                            size: s,
                            fee,
                            status,
                        });
                    } else {
                        tracing::warn!(trade = %t.id, price = %t.price, size = %t.size, "a trade finer than a micro-unit: not applied");
                    }
                } else {
                    for m in t.maker_orders.iter().filter(|m| m.owner == me) {
                        if let (Some(p), Some(s)) = (price(m.price), size(m.matched_amount)) {
                            events.push(ExecEvent::Trade {
                                exchange_id: m.order_id.clone(),
                                trade_id: t.id.clone(),
                                price: p,
                                size: s,
                                fee: Usdc::ZERO,
                                status,
                            });
                        } else {
                            tracing::warn!(trade = %t.id, price = %m.price, size = %m.matched_amount, "a trade finer than a micro-unit: not applied");
                        }
                    }
                }
            }
            if page.next_cursor == "LTE=" || page.next_cursor.is_empty() {
                break;
            }
            cursor = Some(page.next_cursor);
        }
        Ok(events)
    }

    /// Our open orders (all pages), and the fate of working orders no longer open;
    /// `trades`: the trade events just read (an order with a fill is never re-sent).
    pub async fn poll_orders(
        &self,
        working: &[Working],
        trades: &[ExecEvent],
    ) -> Result<Vec<ExecEvent>, ExchangeError> {
        let mut events = Vec::new();
        let mut open: Vec<String> = Vec::new();
        let orders_req = OrdersRequest::builder().build();
        let mut cursor: Option<String> = None;
        loop {
            let c = cursor.take();
            let page = self
                .exchange
                .call("GET /data/orders", Class::Read, false, |client| {
                    let c = c.clone();
                    let req = &orders_req;
                    async move { client.orders(req, c).await }
                })
                .await?;
            // Every open order of ours: the desk settles those it knows and reports the rest.
            for o in page.data {
                events.push(ExecEvent::Accepted {
                    exchange_id: o.id.clone(),
                });
                open.push(o.id);
            }
            if page.next_cursor == "LTE=" || page.next_cursor.is_empty() {
                break;
            }
            cursor = Some(page.next_cursor);
        }
        let now = polybox_core::clock::Clock::now_ms(&polybox_core::clock::WallClock);
        for w in working {
            if open.contains(&w.exchange_id) || w.state < OrderState::Submitted {
                continue;
            }
            let x = w.exchange_id.clone();
            let found = self
                .exchange
                .call("GET /data/order", Class::Read, false, |client| {
                    let x = x.clone();
                    async move { client.order(&x).await }
                })
                .await;
            let settled = now.saturating_sub(w.created_ms) > SETTLE_GRACE_MS;
            let filled = w.filled
                || trades
                    .iter()
                    .any(|e| matches!(e, ExecEvent::Trade { exchange_id, .. } if *exchange_id == w.exchange_id));
            match found {
                Ok(o) => match &o.status {
                    OrderStatusType::Canceled => events.push(ExecEvent::Cancelled {
                        exchange_id: w.exchange_id.clone(),
                        reason: None,
                    }),
                    OrderStatusType::Unknown(text)
                        if text.to_ascii_uppercase().contains("CANCEL")
                            || text.eq_ignore_ascii_case("INVALID") =>
                    {
                        events.push(ExecEvent::Cancelled {
                            exchange_id: w.exchange_id.clone(),
                            reason: Some(text.clone()),
                        });
                    }
                    OrderStatusType::Live
                    | OrderStatusType::Delayed
                    | OrderStatusType::Unmatched => events.push(ExecEvent::Accepted {
                        exchange_id: w.exchange_id.clone(),
                    }),
                    // Matched: its trades bring the fills.
                    _ => {}
                },
                // Not on the exchange (never placed, or no longer active). Only once the
                // exchange has had time to answer, and never when anything of it filled:
                // an unknown post is sent again, identically; an order once open is over.
                Err(ExchangeError::Refused { status: 404, .. }) if settled && !filled => {
                    if w.state == OrderState::Unknown {
                        events.extend(self.post(w.id, &w.exchange_id).await);
                    } else {
                        events.push(ExecEvent::Cancelled {
                            exchange_id: w.exchange_id.clone(),
                            reason: Some("no longer on the exchange".to_owned()),
                        });
                    }
                }
                Err(ExchangeError::Refused { status: 404, .. }) => {}
                Err(e) => {
                    tracing::warn!(order = %w.exchange_id, "cannot read the order's state: {e}")
                }
            }
        }
        Ok(events)
    }
}
