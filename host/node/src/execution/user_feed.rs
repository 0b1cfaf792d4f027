//! The exchange's user channel (`{ws_url}/user`): our orders and trades as they happen,
//! turned into [`ExecEvent`]s. It speeds updates up; the REST poll stays the source of
//! truth (the channel replays nothing after a reconnect), so a dropped channel only costs
//! latency. Reconnects with capped backoff; `PING` keeps it alive.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use polybox_core::fees::FeeSchedule;
use polybox_core::money::{Price, Size, Usdc};
use polybox_core::orders::{ExecEvent, TradeStatus};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::session::Inbound;

/// Our side of one user-channel message.
pub fn events(msg: &Value, api_key: &str) -> Vec<ExecEvent> {
    let list: Vec<&Value> = match msg {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    let mut out = Vec::new();
    let dec = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .or_else(|| v.as_f64().map(|f| f.to_string()))
    };
    for m in list {
        match m["event_type"].as_str() {
            Some("trade") => {
                let Some(status) = m["status"].as_str().and_then(TradeStatus::parse) else {
                    tracing::warn!(trade = %m["id"], "a trade status the host does not know: not applied");
                    continue;
                };
                let trade_id = m["id"].as_str().unwrap_or_default().to_owned();
                if m["trader_side"] == "TAKER" && m["owner"].as_str() == Some(api_key) {
                    let price = dec(&m["price"]).and_then(|p| Price::parse(&p).ok());
                    let size = dec(&m["size"]).and_then(|s| Size::parse(&s).ok());
                    if let (Some(price), Some(size)) = (price, size) {
                        let rate = dec(&m["fee_rate_bps"])
                            .and_then(|r| r.parse().ok())
                            .unwrap_or(0);
                        out.push(ExecEvent::Trade {
                            exchange_id: m["taker_order_id"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                            trade_id: trade_id.clone(),
                            price,
                            size,
                            fee: FeeSchedule {
                                rate_bps: rate,
                                exponent: 1,
                            }
                            .taker_fee(price, size),
                            status,
                        });
                    }
                    continue;
                }
                for mk in m["maker_orders"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|mk| mk["owner"].as_str() == Some(api_key))
                {
                    let price = dec(&mk["price"]).and_then(|p| Price::parse(&p).ok());
                    let size = dec(&mk["matched_amount"]).and_then(|s| Size::parse(&s).ok());
                    if let (Some(price), Some(size)) = (price, size) {
                        out.push(ExecEvent::Trade {
                            exchange_id: mk["order_id"].as_str().unwrap_or_default().to_owned(),
                            trade_id: trade_id.clone(),
                            price,
                            size,
                            fee: Usdc::ZERO,
                            status,
                        });
                    }
                }
            }
            Some("order") => {
                let id = m["id"].as_str().unwrap_or_default().to_owned();
                let status = m["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_uppercase();
                if m["type"] == "CANCELLATION"
                    || status.starts_with("CANCELED")
                    || status == "INVALID"
                {
                    out.push(ExecEvent::Cancelled {
                        exchange_id: id,
                        reason: Some(status),
                    });
                } else if m["type"] == "PLACEMENT" {
                    out.push(ExecEvent::Accepted { exchange_id: id });
                }
            }
            _ => {}
        }
    }
    out
}

/// How the user channel is kept honest: a `PING` every `ping`, and a socket silent for
/// `silence` (not even a `PONG`) is stalled: it is dropped and opened again.
#[derive(Debug, Clone, Copy)]
pub struct Liveness {
    /// Between pings.
    pub ping: Duration,
    /// Longest silence before the socket is reopened.
    pub silence: Duration,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            ping: Duration::from_secs(10),
            silence: Duration::from_secs(25),
        }
    }
}

/// Follow the user channel until `tx` closes. `subscribe` is the first message (it holds
/// the API credentials, as the exchange requires: never logged).
pub async fn run(
    url: String,
    subscribe: String,
    api_key: String,
    liveness: Liveness,
    tx: mpsc::Sender<Inbound>,
) {
    let mut backoff = Duration::from_millis(500);
    loop {
        match tokio::time::timeout(
            Duration::from_secs(5),
            tokio_tungstenite::connect_async(&url),
        )
        .await
        {
            Ok(Ok((mut ws, _))) => {
                if ws.send(Message::text(subscribe.clone())).await.is_ok() {
                    backoff = Duration::from_millis(500);
                    if tx.send(Inbound::Resync).await.is_err() {
                        return;
                    }
                    let mut ping = tokio::time::interval(liveness.ping);
                    let mut heard = tokio::time::Instant::now();
                    loop {
                        tokio::select! {
                            msg = ws.next() => {
                                heard = tokio::time::Instant::now();
                                match msg {
                                    Some(Ok(Message::Text(t))) if t.as_str() == "PONG" => {}
                                    Some(Ok(Message::Text(t))) => {
                                        let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else { continue };
                                        let evs = events(&v, &api_key);
                                        if !evs.is_empty() && tx.send(Inbound::Events(evs)).await.is_err() {
                                            return;
                                        }
                                    }
                                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                                    Some(Ok(_)) => {}
                                }
                            },
                            _ = ping.tick() => {
                                if heard.elapsed() > liveness.silence {
                                    tracing::warn!(url = %url, silent_s = heard.elapsed().as_secs(), "the user channel went silent");
                                    break;
                                }
                                if ws.send(Message::text("PING")).await.is_err() { break; }
                            }
                        }
                    }
                }
                tracing::warn!(url = %url, "user channel dropped: polling carries on; reconnecting");
            }
            Ok(Err(e)) => tracing::warn!(url = %url, "cannot connect to the user channel: {e}"),
            Err(_) => tracing::warn!(url = %url, "the user channel did not answer within 5 s"),
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_side_of_trades_and_orders() {
        let me = "k";
        let taker = serde_json::json!({"event_type":"trade","id":"t1","taker_order_id":"0xa","owner":"k","trader_side":"TAKER",
            "price":"0.5","size":"10","fee_rate_bps":"0","status":"MATCHED","maker_orders":[]});
        assert!(
            matches!(&events(&taker, me)[..], [ExecEvent::Trade { exchange_id, size, .. }] if exchange_id == "0xa" && *size == Size::parse("10").unwrap())
        );
        let maker = serde_json::json!([{"event_type":"trade","id":"t2","taker_order_id":"0xb","owner":"k","trader_side":"MAKER","status":"TRADE_STATUS_CONFIRMED",
            "maker_orders":[{"order_id":"0xc","owner":"k","matched_amount":"4","price":"0.45"},{"order_id":"0xd","owner":"other","matched_amount":"1","price":"0.45"}]}]);
        assert!(
            matches!(&events(&maker, me)[..], [ExecEvent::Trade { exchange_id, status: TradeStatus::Confirmed, .. }] if exchange_id == "0xc")
        );
        let unknown = serde_json::json!({"event_type":"trade","id":"t3","owner":"k","trader_side":"TAKER","status":"SETTLING","price":"0.5","size":"1"});
        assert!(events(&unknown, me).is_empty(), "never booked");
        let cancel = serde_json::json!({"event_type":"order","id":"0xa","type":"CANCELLATION","status":"CANCELED"});
        assert!(matches!(
            &events(&cancel, me)[..],
            [ExecEvent::Cancelled { .. }]
        ));
        let killed = serde_json::json!({"event_type":"order","id":"0xa","type":"UPDATE","status":"CANCELED_market_resolved"});
        assert!(matches!(
            &events(&killed, me)[..],
            [ExecEvent::Cancelled { .. }]
        ));
        let placed =
            serde_json::json!({"event_type":"order","id":"0xa","type":"PLACEMENT","status":"LIVE"});
        assert!(matches!(
            &events(&placed, me)[..],
            [ExecEvent::Accepted { .. }]
        ));
    }
}
