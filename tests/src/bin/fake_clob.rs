//! `fake-clob --port N`: the fake Polymarket CLOB v2 as a process, for demos and manual runs
//! against `polybox run --live` (`--set exchange.clob_url="http://127.0.0.1:N"`). It prints its
//! URL and runs until Ctrl-C; `GET /admin/state` shows what it saw, `POST /admin/fault`,
//! `/admin/mode` and `/admin/take` drive it.

use clap::Parser;

/// The fake exchange's command line.
#[derive(Debug, Parser)]
#[command(name = "fake-clob", about = "A fake Polymarket CLOB v2 on 127.0.0.1")]
struct Args {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let clob = polybox_tests::fake_clob::FakeClob::start(args.port).await?;
    println!("{}", clob.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
