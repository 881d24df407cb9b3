//! The `caucus-loadgen` binary: runs one scenario (or all) against a Caucus server and prints a
//! human summary and one JSON line per scenario. See the crate docs and `docs/benchmarks.md`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use caucus_loadgen::scenario::{forward, join, memory, moves, split};
use caucus_loadgen::{Result, ServerSpec, Target};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use tracing_subscriber::EnvFilter;

/// Drive a Caucus server on loopback with many WebRTC peers and measure it.
#[derive(Debug, Parser)]
#[command(name = "caucus-loadgen", version)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    /// Print only the JSON lines.
    #[arg(long, global = true)]
    json_only: bool,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// The `caucus` binary to start for each scenario (default: next to this binary).
    #[arg(long, global = true, value_name = "PATH")]
    server_bin: Option<PathBuf>,
    /// Drive a running server at this loopback HTTP address instead (needs --secret).
    #[arg(long, global = true, value_name = "ADDR", requires = "secret")]
    url: Option<SocketAddr>,
    /// The running server's token secret (its `<data>/secret`).
    #[arg(long, global = true, value_name = "SECRET")]
    secret: Option<String>,
    /// The running server's pid, for CPU and memory figures.
    #[arg(long, global = true, value_name = "PID")]
    server_pid: Option<u32>,
    /// Run the server inside this process (no CPU or memory figures).
    #[arg(long, global = true, conflicts_with_all = ["url", "server_bin"])]
    in_process: bool,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// N rooms x M peers publishing for D seconds: egress packets per server CPU-second, loss, latency.
    Forward {
        #[arg(long, default_value_t = 10)]
        rooms: usize,
        #[arg(long, default_value_t = 5)]
        peers: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Publish video (15 fps, 3 x 1,000 B a frame) as well as audio.
        #[arg(long)]
        video: bool,
    },
    /// Signaling connect -> first media packet, over many sequential joins.
    Join {
        #[arg(long, default_value_t = 100)]
        joins: usize,
        #[arg(long, default_value_t = 2)]
        talkers: usize,
        /// The joiners reach media over ICE-TCP only (no UDP candidate of theirs).
        #[arg(long)]
        tcp: bool,
    },
    /// REST move into a breakout -> first packet of the new room's talker.
    Move {
        #[arg(long, default_value_t = 10)]
        rooms: usize,
        #[arg(long, default_value_t = 200)]
        moves: usize,
    },
    /// N connected peers auto-assigned into R breakouts by one call -> every listener hears its talker.
    Split {
        #[arg(long, default_value_t = 1000)]
        peers: usize,
        #[arg(long, default_value_t = 100)]
        rooms: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Server RSS idle vs. with N connected peers.
    Memory {
        #[arg(long, default_value_t = 500)]
        peers: usize,
        #[arg(long, default_value_t = 50)]
        publishing: usize,
        /// Join and leave this many times (memory after each round shows what stays).
        #[arg(long, default_value_t = 1)]
        rounds: usize,
    },
    /// Every scenario with its defaults, each against a fresh server.
    All,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("LOADGEN_LOG").unwrap_or_else(|_| EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let spec = match server_spec(&cli.server) {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("caucus-loadgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    // One runtime for every client: the load generator's own cost stays predictable.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("caucus-loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(&spec, cli.scenario, cli.json_only));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("caucus-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn server_spec(args: &ServerArgs) -> Result<ServerSpec> {
    if args.in_process {
        return Ok(ServerSpec::InProcess);
    }
    if let (Some(http), Some(secret)) = (args.url, &args.secret) {
        return Ok(ServerSpec::External {
            http,
            secret: secret.clone(),
            pid: args.server_pid,
        });
    }
    let bin = match &args.server_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()?.with_file_name("caucus"),
    };
    Ok(ServerSpec::Spawn { bin })
}

async fn run(spec: &ServerSpec, scenario: Scenario, json_only: bool) -> Result<()> {
    let all = matches!(scenario, Scenario::All);
    let list = if all {
        vec![
            Scenario::Forward {
                rooms: 10,
                peers: 5,
                seconds: 20,
                video: false,
            },
            Scenario::Join {
                joins: 100,
                talkers: 2,
                tcp: false,
            },
            Scenario::Move {
                rooms: 10,
                moves: 200,
            },
            Scenario::Memory {
                peers: 500,
                publishing: 50,
                rounds: 1,
            },
            Scenario::Split {
                peers: 1000,
                rooms: 100,
                seed: 7,
            },
        ]
    } else {
        vec![scenario]
    };
    for scenario in list {
        // A fresh server per scenario: nothing one leaves behind weighs on the next.
        let target = Arc::new(Target::start(spec).await?);
        let outcome = one(&target, scenario, json_only).await;
        if let Some(target) = Arc::into_inner(target) {
            target.shutdown().await;
        }
        outcome?;
    }
    Ok(())
}

async fn one(target: &Arc<Target>, scenario: Scenario, json_only: bool) -> Result<()> {
    match scenario {
        Scenario::Forward {
            rooms,
            peers,
            seconds,
            video,
        } => {
            let params = forward::Params {
                rooms,
                peers,
                seconds,
                video,
                ..forward::Params::default()
            };
            let r = forward::run(target, &params).await?;
            emit(&r.summary(), &r, json_only)
        }
        Scenario::Join {
            joins,
            talkers,
            tcp,
        } => {
            let params = join::Params {
                joins,
                talkers,
                tcp,
            };
            let r = join::run(target, &params).await?;
            emit(&r.summary(), &r, json_only)
        }
        Scenario::Move { rooms, moves } => {
            let r = moves::run(target, &moves::Params { rooms, moves }).await?;
            emit(&r.summary(), &r, json_only)
        }
        Scenario::Split { peers, rooms, seed } => {
            let params = split::Params {
                peers,
                rooms,
                seed,
                ..split::Params::default()
            };
            let r = split::run(target, &params).await?;
            emit(&r.summary(), &r, json_only)
        }
        Scenario::Memory {
            peers,
            publishing,
            rounds,
        } => {
            let params = memory::Params {
                peers,
                publishing,
                rounds,
                ..memory::Params::default()
            };
            let r = memory::run(target, &params).await?;
            emit(&r.summary(), &r, json_only)
        }
        Scenario::All => Ok(()),
    }
}

fn emit(summary: &str, report: &impl Serialize, json_only: bool) -> Result<()> {
    if !json_only {
        println!("{summary}");
    }
    println!("{}", serde_json::to_string(report)?);
    Ok(())
}
