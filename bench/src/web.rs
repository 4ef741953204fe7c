//! The browser's side: server-rendered pages under load (wrk), live events over SSE, and the size of
//! the browser bundle.

use std::{
    collections::HashMap,
    io::Write,
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use futures::StreamExt;
use reqwest::cookie::CookieStore;
use rumqttc::QoS;
use tokio_util::sync::CancellationToken;

use crate::{
    device::{self, Bundle},
    server::{Account, Server},
};

/// Requests per second and how much CPU the load tool used.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    pub requests_per_second: f64,
    pub load_cores: f64,
}

/// A session cookie of `account`, signed in through the API as the app's login does.
pub async fn session_cookie(server: &Server, account: &Account) -> anyhow::Result<String> {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()?;
    client
        .post(server.url("/api/v1/auth/login"))
        .json(&serde_json::json!({ "email": account.email, "password": account.password }))
        .send()
        .await?
        .error_for_status()?;
    let url = server.url("/").parse()?;
    let cookie = jar.cookies(&url).context("no session cookie after login")?;
    Ok(cookie.to_str()?.to_string())
}

/// Checks that `url` answers 200 with `expected` in its body for these headers (so that the load
/// test measures the real page, not an error or a redirect to the login).
pub async fn check_page(url: &str, headers: &[(&str, &str)], expected: &str) -> anyhow::Result<()> {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await?;
    let status = response.status();
    let body = response.text().await?;
    if status != 200 || !body.contains(expected) {
        bail!("{url} answered {status} without {expected:?}");
    }
    Ok(())
}

/// `wrk` for `seconds` with `connections` on one thread against `url`.
pub async fn wrk(
    url: &str,
    headers: &[(&str, &str)],
    connections: u32,
    seconds: u32,
) -> anyhow::Result<Throughput> {
    let mut command = tokio::process::Command::new("wrk");
    command
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (name, value) in headers {
        command.args(["-H", &format!("{name}: {value}")]);
    }
    let before = children_cpu_seconds();
    let started = Instant::now();
    let output = command
        .arg(url)
        .output()
        .await
        .context("running wrk (apt-get install wrk)")?;
    let wall = started.elapsed().as_secs_f64();
    let load_cores = (children_cpu_seconds() - before) / wall;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("wrk failed: {text}");
    }
    if let Some(line) = text.lines().find(|line| line.contains("Non-2xx or 3xx")) {
        bail!("{url}: {}", line.trim());
    }
    let requests_per_second = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output: {text}"))?;
    Ok(Throughput {
        requests_per_second,
        load_cores,
    })
}

/// CPU seconds of the children this process has waited for.
fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Device publish to SSE event: a device publishes `count` samples `interval` apart while a client
/// follows the device's live stream; the time from each publish to its event at the client.
pub async fn live_latencies(
    server: &Server,
    account: &Account,
    bundle: &Bundle,
    count: usize,
    interval: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let response = reqwest::Client::new()
        .get(server.url(&format!("/api/v1/devices/{}/live", bundle.id)))
        .bearer_auth(&account.token)
        .send()
        .await?
        .error_for_status()?;
    let sent: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let mut stream = response.bytes_stream();
    let mut buffer = Vec::new();
    // The stream opens with the device's status: from then on every sample is an event.
    let mut opened = false;
    let stop = CancellationToken::new();
    let mut publisher = None;
    let mut latencies = Vec::with_capacity(count);
    let deadline = Instant::now() + Duration::from_secs(30) + interval * count as u32;
    while latencies.len() < count {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(remaining, stream.next())
            .await
            .with_context(|| format!("{} of {count} live events in time", latencies.len()))?
            .context("the live stream ended")??;
        let arrived = Instant::now();
        buffer.extend_from_slice(&chunk);
        while let Some(end) = find(&buffer, b"\n\n") {
            let event: Vec<u8> = buffer.drain(..end + 2).collect();
            let event = String::from_utf8_lossy(&event);
            if !opened {
                opened = true;
                publisher = Some(tokio::spawn(publish_samples(
                    bundle.clone(),
                    server.tls,
                    count,
                    interval,
                    sent.clone(),
                    stop.clone(),
                )));
            }
            if !event.lines().any(|line| line == "event: telemetry") {
                continue;
            }
            let Some(data) = event.lines().find_map(|line| line.strip_prefix("data: ")) else {
                continue;
            };
            let data: serde_json::Value = serde_json::from_str(data)?;
            let Some(seq) = data["point"]["seq"].as_u64() else {
                continue;
            };
            if let Some(at) = sent
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .remove(&seq)
            {
                latencies.push(arrived.duration_since(at));
            }
        }
    }
    stop.cancel();
    if let Some(publisher) = publisher {
        publisher.await??;
    }
    Ok(latencies)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

async fn publish_samples(
    bundle: Bundle,
    addr: std::net::SocketAddr,
    count: usize,
    interval: Duration,
    sent: Arc<Mutex<HashMap<u64, Instant>>>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let (client, mut events) = device::client(bundle.options(addr, 16), 64);
    device::connect(&mut events).await?;
    let poller = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    // Sequence numbers above anything the ingest runs used.
    let base = 1u64 << 40;
    let mut tick = tokio::time::interval(interval);
    for n in 0..count as u64 {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let seq = base + n;
        sent.lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .insert(seq, Instant::now());
        client
            .publish(
                bundle.topic("telemetry"),
                QoS::AtLeastOnce,
                false,
                device::sample(seq),
            )
            .await?;
    }
    stop.cancelled().await;
    let _ = client.disconnect().await;
    poller.abort();
    Ok(())
}

/// The browser bundle (every `.wasm` and `.js` under `pkg/`), gzipped at the best level, KiB.
pub fn bundle_gz_kib(site_root: &Path) -> anyhow::Result<f64> {
    let pkg = site_root.join("pkg");
    let mut total = 0usize;
    let mut files = 0;
    for entry in std::fs::read_dir(&pkg).with_context(|| format!("reading {}", pkg.display()))? {
        let path = entry?.path();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("wasm" | "js")
        ) {
            continue;
        }
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&std::fs::read(&path)?)?;
        total += encoder.finish()?.len();
        files += 1;
    }
    if files == 0 {
        bail!("no .wasm or .js in {}", pkg.display());
    }
    Ok(total as f64 / 1024.0)
}
