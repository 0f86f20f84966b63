//! The test tree's proxy, run on its own for the benchmark harness: `slowproxy UPSTREAM MS`
//! forwards to UPSTREAM with MS milliseconds of latency added to every call, like the distance
//! to the real IAM, and prints its own URL. It serves until killed.

#[path = "../tests/support/proxy.rs"]
#[allow(dead_code)]
mod proxy;

use std::io::Write as _;
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(upstream), Some(Ok(ms))) = (args.next(), args.next().map(|a| a.parse::<u64>()))
    else {
        eprintln!("usage: slowproxy UPSTREAM MILLISECONDS");
        std::process::exit(2);
    };
    let proxy = proxy::Proxy::with(
        &upstream,
        proxy::Behaviour {
            latency: Duration::from_millis(ms),
            ..proxy::Behaviour::default()
        },
    );
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", proxy.url);
    let _ = out.flush();
    loop {
        std::thread::park();
    }
}
