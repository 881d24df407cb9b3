//! The `caucus` binary.
//!
//! `caucus` (or `caucus serve`) starts the server with embedded defaults — HTTP on
//! 127.0.0.1:7880, media on 127.0.0.1:7882, data in ./caucus-data — and prints one join link
//! per role of the built-in template for the room `demo`. `caucus token` mints join and
//! management tokens with the secret of a data directory. `caucus webhooks` prints each webhook
//! endpoint's signing key, for the receiver.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use caucus_core::builtin;
use caucus_server::config::ConfigError;
use caucus_server::{Config, JoinGrant, Overrides, Server, TokenIssuer};
use clap::{Args, Parser, Subcommand};
use tracing::info;

/// Caucus: a video-conferencing server with server-owned breakout rooms.
#[derive(Debug, Parser)]
#[command(name = "caucus", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Print a join token (or, with --management, a management token).
    Token(TokenArgs),
    /// Print each webhook endpoint's URL and signing key, one per line (generating and
    /// keeping the missing keys in the data directory, as the server does).
    Webhooks(WebhooksArgs),
}

#[derive(Debug, Args)]
struct WebhooksArgs {
    /// Data directory holding the generated keys.
    #[arg(long, env = "CAUCUS_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// The TOML config file listing the endpoints.
    #[arg(long, env = "CAUCUS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// HTTP listen address (signaling, REST, web app).
    #[arg(long, env = "CAUCUS_HTTP", value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Media UDP listen address; repeat it (or separate with commas) for several, e.g.
    /// `0.0.0.0:7882,[::]:7882` for IPv4 and IPv6.
    #[arg(long, env = "CAUCUS_MEDIA", value_name = "ADDR", value_delimiter = ',')]
    media: Vec<SocketAddr>,
    /// ICE-over-TCP listen address for clients that cannot send UDP (e.g. 0.0.0.0:7881);
    /// repeatable. Off when not given.
    #[arg(
        long,
        env = "CAUCUS_MEDIA_TCP",
        value_name = "ADDR",
        value_delimiter = ','
    )]
    media_tcp: Vec<SocketAddr>,
    /// Data directory (secret, database, recordings).
    #[arg(long, env = "CAUCUS_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// A media IP told to clients (behind a 1:1 NAT: the public one; repeat it, or separate
    /// with commas, to tell several, e.g. the private and the public one).
    #[arg(
        long,
        env = "CAUCUS_ADVERTISE",
        value_name = "IP",
        value_delimiter = ','
    )]
    advertise: Vec<IpAddr>,
    /// Serve HTTPS and WSS with this certificate chain (PEM; with --tls-key). Reloaded when
    /// it changes and on SIGHUP.
    #[arg(long, env = "CAUCUS_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "CAUCUS_TLS_KEY", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// A TOML file for everything else (see `caucus_server::Config`).
    #[arg(long, env = "CAUCUS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct TokenArgs {
    /// Mint a management token instead of a join token.
    #[arg(long, conflicts_with_all = ["room", "user", "role", "name"])]
    management: bool,
    /// The room to join.
    #[arg(long, required_unless_present = "management")]
    room: Option<String>,
    /// The user id (stable across reconnects).
    #[arg(long, required_unless_present = "management")]
    user: Option<String>,
    /// The role, e.g. host, co-host, moderator, guest, breakout.
    #[arg(long, required_unless_present = "management")]
    role: Option<String>,
    /// Display name (default: the user id).
    #[arg(long)]
    name: Option<String>,
    /// Seconds the token is valid.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
    /// Data directory holding the secret.
    #[arg(long, env = "CAUCUS_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// A TOML config file (its `secret` or `data` is used).
    #[arg(long, env = "CAUCUS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

/// One line per problem, each naming its key.
fn config_error(error: &ConfigError) -> String {
    match error {
        ConfigError::Source(e) => format!("configuration: {e}"),
        ConfigError::Invalid(problems) => {
            let mut text = String::from("invalid configuration:");
            for problem in problems {
                text.push_str("\n  ");
                text.push_str(&problem.to_string());
            }
            text
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Cmd::Token(args)) => token(args),
        Some(Cmd::Webhooks(args)) => webhook_keys(args),
        Some(Cmd::Serve(args)) => serve(args),
        None => serve(cli.serve),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let overrides = Overrides {
        http: args.http,
        media: args.media,
        media_tcp: args.media_tcp,
        data: args.data,
        advertise: args.advertise,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
    };
    let config = match Config::load(args.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(e) => return fail(&config_error(&e)),
    };
    caucus_server::logging::init(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let code = runtime.block_on(async move {
        let demo_room = config.demo();
        let running = match Server::start(config).await {
            Ok(running) => running,
            Err(e) => return fail(&e.to_string()),
        };
        println!("Caucus is running: {}", running.base_url());
        println!("  signaling  {}", running.signaling_url());
        let told: Vec<String> = running
            .media_candidates()
            .iter()
            .map(ToString::to_string)
            .collect();
        let bound: Vec<String> = running
            .media_addrs()
            .iter()
            .map(ToString::to_string)
            .collect();
        println!(
            "  media      udp {} (clients are told: {})",
            bound.join(", "),
            told.join(", ")
        );
        if let Some(room) = demo_room {
            println!("\nJoin links for room `{room}` (valid 24 h), one per role:");
            for role in builtin::breakout_template_spec().roles.keys() {
                let grant = JoinGrant::new(room.clone(), format!("demo-{role}"), role.clone())
                    .with_name(format!("Demo {role}"));
                match running
                    .tokens()
                    .mint_join(&grant, Duration::from_secs(24 * 3600))
                {
                    Ok(token) => println!(
                        "  {:<10} {}",
                        role.as_str(),
                        running.join_link(&room, &token)
                    ),
                    Err(e) => eprintln!("  {role}: {e}"),
                }
            }
        }
        println!(
            "\nREST API: {}/v1 (OpenAPI: /v1/openapi.json, Swagger UI: /docs)",
            running.base_url()
        );
        println!("  management token: caucus token --management --data <DIR>");
        println!("\nPress Ctrl-C to stop.");
        let mut stop = match StopSignals::listen() {
            Ok(stop) => stop,
            Err(e) => {
                eprintln!("caucus: cannot listen for SIGTERM/SIGINT: {e}");
                running.shutdown().await;
                return ExitCode::FAILURE;
            }
        };
        let mut reload = if running.tls() {
            match ReloadSignal::listen() {
                Ok(reload) => Some(reload),
                Err(e) => {
                    eprintln!("caucus: cannot listen for SIGHUP (the certificate is still reloaded when its files change): {e}");
                    None
                }
            }
        } else {
            None
        };
        let signal = loop {
            tokio::select! {
                signal = stop.next() => break signal,
                () = ReloadSignal::next(&mut reload) => {
                    info!("SIGHUP: reading the TLS certificate files");
                    running.reload_tls();
                }
            }
        };
        info!(signal, "stop requested");
        // A second signal while stopping means "now": exit without waiting for the rest.
        tokio::select! {
            () = running.shutdown() => ExitCode::SUCCESS,
            signal = stop.next() => {
                eprintln!("caucus: {signal} again while stopping; exiting now");
                ExitCode::FAILURE
            }
        }
    });
    // Blocking work still running after the stop (a file write, a store call) gets a moment,
    // never an unbounded wait.
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// SIGTERM (systemd, Docker, Kubernetes) and SIGINT (Ctrl-C): either one stops the server
/// cleanly.
struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Install the handlers (from then on the signals no longer kill the process).
    fn listen() -> std::io::Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals {})
        }
    }

    /// The next stop signal's name.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// SIGHUP, with TLS on: read the certificate files now. (Without TLS the signal keeps its
/// default, ending the process.)
struct ReloadSignal {
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl ReloadSignal {
    fn listen() -> std::io::Result<ReloadSignal> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(ReloadSignal {
                hup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(ReloadSignal {})
        }
    }

    /// The next SIGHUP; never without a handler.
    async fn next(reload: &mut Option<ReloadSignal>) {
        #[cfg(unix)]
        if let Some(reload) = reload
            && reload.hup.recv().await.is_some()
        {
            return;
        }
        #[cfg(not(unix))]
        let _ = reload;
        std::future::pending::<()>().await;
    }
}

/// The configuration a tool verb (not `serve`) works from: the file, the environment and
/// `--data`; a problem is printed as `serve` would print it.
fn tool_config(file: Option<&std::path::Path>, data: Option<PathBuf>) -> Result<Config, ExitCode> {
    let overrides = Overrides {
        data,
        ..Overrides::default()
    };
    Config::load(file, &overrides).map_err(|e| fail(&config_error(&e)))
}

fn token(args: TokenArgs) -> ExitCode {
    let config = match tool_config(args.config.as_deref(), args.data) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let secret = match config.secret {
        Some(secret) => secret,
        None => match caucus_server::secret::load_or_create(&config.data) {
            Ok(secret) => secret,
            Err(e) => return fail(&format!("secret in {}: {e}", config.data.display())),
        },
    };
    let tokens = TokenIssuer::new(&secret);
    let ttl = Duration::from_secs(args.ttl);
    let minted = match (args.management, args.room, args.user, args.role) {
        (true, ..) => tokens.mint_management(ttl),
        (false, Some(room), Some(user), Some(role)) => {
            let mut grant = JoinGrant::new(room, user, role);
            grant.name = args.name;
            tokens.mint_join(&grant, ttl)
        }
        _ => return fail("give --room, --user and --role, or --management"),
    };
    match minted {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

fn webhook_keys(args: WebhooksArgs) -> ExitCode {
    let config = match tool_config(args.config.as_deref(), args.data) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if config.webhooks.is_empty() {
        eprintln!("caucus: no [[webhooks]] endpoint is configured");
        return ExitCode::SUCCESS;
    }
    if config.in_memory {
        return fail("in_memory is set: keys are generated at each start and kept nowhere");
    }
    match caucus_server::webhooks::keys::resolve(&config.webhooks, Some(&config.data)) {
        Ok(keys) => {
            for (endpoint, (key, _)) in config.webhooks.iter().zip(keys) {
                println!("{} {}", endpoint.url, key.encoded());
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("caucus: {message}");
    ExitCode::FAILURE
}
