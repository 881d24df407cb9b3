//! The server under load: a `caucus` process started here (the measured setup), the server
//! in-process (the smoke test), or one already running on this machine.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caucus_server::{Config, JoinGrant, Running, Server, TokenIssuer};
use reqwest::Method;
use serde_json::Value;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::{limits, proc_stat};

/// Tokens outlive any run.
const TOKEN_TTL: Duration = Duration::from_secs(6 * 3600);
/// A started server must answer `/healthz` within this.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Which server to drive.
#[derive(Debug, Clone)]
pub enum ServerSpec {
    /// Start `bin serve --http 127.0.0.1:P --media 127.0.0.1:Q --media-tcp 127.0.0.1:R
    /// --data TMP` (a fresh data dir with a secret written by us, SQLite store) and stop it
    /// at the end.
    Spawn { bin: PathBuf },
    /// The server in this process, `Config::ephemeral()` (in-memory store). No CPU or memory
    /// figures: the clients share its threads.
    InProcess,
    /// A server already running on loopback, with its token secret; `pid` gives CPU and memory.
    External {
        http: SocketAddr,
        secret: String,
        pid: Option<u32>,
    },
}

/// A server to drive: its addresses, a token issuer with its secret, and (when known) its pid.
#[derive(Debug)]
pub struct Target {
    http: SocketAddr,
    tokens: TokenIssuer,
    management: String,
    pid: Option<u32>,
    client: reqwest::Client,
    owned: Owned,
}

#[derive(Debug)]
enum Owned {
    Process { child: Child, data: PathBuf },
    InProcess(Box<Running>),
    Nothing,
}

impl Target {
    /// Starts (or reaches) the server and waits until it answers `/healthz`.
    pub async fn start(spec: &ServerSpec) -> Result<Target> {
        let (http, secret, pid, owned) = match spec {
            ServerSpec::Spawn { bin } => spawn(bin)?,
            ServerSpec::InProcess => {
                let config = Config {
                    media_tcp: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
                    ..Config::ephemeral()
                };
                let secret = config
                    .secret
                    .clone()
                    .ok_or_else(|| Error::setup("an ephemeral config has a secret"))?;
                let running = Server::start(config)
                    .await
                    .map_err(|e| Error::setup(format!("in-process server: {e}")))?;
                (
                    running.http_addr(),
                    secret,
                    None,
                    Owned::InProcess(Box::new(running)),
                )
            }
            ServerSpec::External { http, secret, pid } => (
                limits::loopback(*http)?,
                secret.clone(),
                *pid,
                Owned::Nothing,
            ),
        };
        let tokens = TokenIssuer::new(&secret);
        let management = tokens
            .mint_management(TOKEN_TTL)
            .map_err(|e| Error::setup(format!("management token: {e}")))?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()?;
        let mut target = Target {
            http,
            tokens,
            management,
            pid,
            client,
            owned,
        };
        target.wait_healthy().await?;
        Ok(target)
    }

    /// `ws://HOST:PORT/v1/rtc`.
    pub fn signaling_url(&self) -> String {
        format!("ws://{}/v1/rtc", self.http)
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// The server's pid, when it is a separate process this machine can see.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// A join token for `user` as `role` in `room`.
    pub fn join_token(&self, room: &str, user: &str, role: &str) -> Result<String> {
        self.tokens
            .mint_join(&JoinGrant::new(room, user, role), TOKEN_TTL)
            .map_err(|e| Error::setup(format!("join token: {e}")))
    }

    /// CPU seconds the server process has used so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        self.pid.and_then(proc_stat::cpu_seconds)
    }

    /// The server process's resident memory, KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        self.pid.and_then(proc_stat::rss_kib)
    }

    /// One REST call with the management token; the answer's JSON (`null` for 204).
    pub async fn rest(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("http://{}{path}", self.http);
        let mut request = self
            .client
            .request(method.clone(), &url)
            .bearer_auth(&self.management);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&body)?);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            return Err(Error::Rest {
                method: method.to_string(),
                path: path.to_owned(),
                status: status.as_u16(),
                body: text,
            });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// The sum of every sample of a counter or gauge in `/metrics` (all label sets).
    pub async fn metric(&self, name: &str) -> Result<Option<f64>> {
        let url = format!("http://{}/metrics", self.http);
        let text = self.client.get(&url).send().await?.text().await?;
        let mut found = None;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some(rest) = line.strip_prefix(name) else {
                continue;
            };
            if !(rest.starts_with(' ') || rest.starts_with('{')) {
                continue;
            }
            if let Some(value) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
                *found.get_or_insert(0.0) += value;
            }
        }
        Ok(found)
    }

    /// Stops what was started here (the process is killed; its data dir removed).
    pub async fn shutdown(self) {
        match self.owned {
            Owned::Process { mut child, data } => {
                let _ = child.kill();
                let _ = child.wait();
                if let Err(e) = std::fs::remove_dir_all(&data) {
                    warn!(data = %data.display(), error = %e, "data dir not removed");
                }
            }
            Owned::InProcess(running) => running.shutdown().await,
            Owned::Nothing => {}
        }
    }

    async fn wait_healthy(&mut self) -> Result<()> {
        let url = format!("http://{}/healthz", self.http);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(r) = self.client.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if let Owned::Process { child, data } = &mut self.owned
                && let Ok(Some(status)) = child.try_wait()
            {
                let log = std::fs::read_to_string(data.join("server.log")).unwrap_or_default();
                return Err(Error::setup(format!("the server exited ({status}): {log}")));
            }
            if Instant::now() > deadline {
                return Err(Error::setup(format!(
                    "the server did not answer {url} within {START_TIMEOUT:?}"
                )));
            }
            // Polling a starting process: there is nothing to await but its port.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

type Started = (SocketAddr, String, Option<u32>, Owned);

fn spawn(bin: &Path) -> Result<Started> {
    if !bin.exists() {
        return Err(Error::setup(format!(
            "no server binary at {} (build it: cargo build --release -p caucus-server)",
            bin.display()
        )));
    }
    let data = std::env::temp_dir().join(format!(
        "caucus-loadgen-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&data)?;
    // The server reads `<data>/secret` if it exists: writing it first lets us mint tokens.
    let secret = caucus_server::secret::random_hex(32);
    std::fs::write(data.join("secret"), &secret)?;
    let http = free_port(false)?;
    let media = free_port(true)?;
    // ICE-TCP too, for the scenarios whose peers use it (UDP clients never pair with it).
    let media_tcp = free_port(false)?;
    let log = std::fs::File::create(data.join("server.log"))?;
    let child = Command::new(bin)
        .arg("serve")
        .arg("--http")
        .arg(http.to_string())
        .arg("--media")
        .arg(media.to_string())
        .arg("--media-tcp")
        .arg(media_tcp.to_string())
        .arg("--data")
        .arg(&data)
        .env(
            "CAUCUS_LOG",
            std::env::var("CAUCUS_LOG").unwrap_or("warn".into()),
        )
        .env_remove("CAUCUS_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let pid = child.id();
    info!(pid, %http, %media, data = %data.display(), "server started");
    Ok((http, secret, Some(pid), Owned::Process { child, data }))
}

/// A port free on 127.0.0.1 now (the OS picks it; the server binds it a moment later).
fn free_port(udp: bool) -> Result<SocketAddr> {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let addr = if udp {
        UdpSocket::bind(any)?.local_addr()?
    } else {
        TcpListener::bind(any)?.local_addr()?
    };
    Ok(addr)
}
