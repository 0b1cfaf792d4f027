//! `fake-clob --port N [--seed S]`: the fake Polymarket CLOB v2 as a process, for demos and
//! manual runs of `polybox run --live`. It also serves a market channel whose books move on
//! the seed, so a live run has something to trade on. It prints the settings to pass to the
//! host and runs until Ctrl-C; `GET /admin/state` shows what it saw, and `POST /admin/fault`,
//! `/admin/mode`, `/admin/take`, `/admin/fail-matches` and `/admin/user-ws` drive it.

use std::time::Duration;

use clap::Parser;
use polybox_tests::fake_clob::{FakeClob, TOKENS};
use polybox_tests::fake_market::FakeMarket;

/// The fake exchange's command line.
#[derive(Debug, Parser)]
#[command(name = "fake-clob", about = "A fake Polymarket CLOB v2 on 127.0.0.1")]
struct Args {
    /// Port of the REST API and user channel on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed of the market channel's activity.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Market-channel messages per second (0: the books stand still).
    #[arg(long, default_value_t = 20)]
    rate: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let clob = FakeClob::start(args.port).await?;
    let mut market = FakeMarket::start(&TOKENS, args.seed).await;
    println!("exchange.clob_url=\"{}\"", clob.url());
    println!("exchange.ws_url=\"{}\"", market.url());
    println!("exchange.user_ws_url=\"{}\"", clob.ws_url());
    println!("markets: {}", TOKENS.join(","));
    if args.rate == 0 {
        return Ok(tokio::signal::ctrl_c().await?);
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1) / args.rate);
    loop {
        tokio::select! {
            _ = tick.tick() => market.step(1),
            r = tokio::signal::ctrl_c() => return Ok(r?),
        }
    }
}
