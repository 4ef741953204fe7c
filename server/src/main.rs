//! The `brewlink` command.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use brewlink::{
    auth::{Actor, Role},
    config::Config,
    observability,
    pki::Pki,
    services::{
        Origin, ServiceError, Services, accounts::NewAccount, devices::write_revocation_list,
    },
    startup::{self, Application},
    store::Store,
};
use clap::{Parser, Subcommand};

/// mimalloc rather than the system allocator: rendering a page allocates and frees thousands of
/// small objects, and the system allocator's locking and consolidation were a fifth of the time of
/// a signed-in page under load (README, Benchmarks).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// BrewLink: the IoT platform for home-brewing devices.
///
/// Every setting has a default; a TOML file (--config) and BREWLINK_* environment variables override
/// them, e.g. BREWLINK_HTTP_ADDR=0.0.0.0:8080, BREWLINK_DATABASE_URL=postgres://..., BREWLINK_MQTT_PORT=1884.
/// `brewlink config print` shows every setting with its meaning.
#[derive(Debug, Parser)]
#[command(name = "brewlink", version, about, long_about)]
struct Cli {
    /// A TOML configuration file (see `brewlink config print` for its keys).
    #[arg(
        long,
        short,
        global = true,
        env = "BREWLINK_CONFIG",
        value_name = "FILE"
    )]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: web app, JSON API, embedded MQTT broker and bridge (the default command).
    Serve,
    /// Apply pending database migrations and exit (the server also does this at start).
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print (or write with --out) configuration for an external broker that enforces the same rules.
    BrokerConfig {
        #[command(subcommand)]
        broker: BrokerKind,
    },
    /// Run simulated brewing devices: from downloaded bundles, or registered on the spot with --count.
    Simulate(SimulateArgs),
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// A device bundle (zip) downloaded from BrewLink; repeat for several devices.
    #[arg(long, value_name = "ZIP")]
    bundle: Vec<PathBuf>,
    /// Register this many new devices through the API and simulate them (needs --email and --password).
    #[arg(long, value_name = "N")]
    count: Option<u32>,
    /// The BrewLink server, for --count.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    server: String,
    /// The account that owns the devices, for --count.
    #[arg(long)]
    email: Option<String>,
    /// Its password, for --count (or BREWLINK_SIMULATOR_PASSWORD).
    #[arg(long, env = "BREWLINK_SIMULATOR_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Seconds between telemetry samples.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Simulated seconds per real second (heating and program steps run this much faster).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Connect to this host instead of the one in the bundle's settings.
    #[arg(long)]
    host: Option<String>,
}

#[derive(Debug, Subcommand)]
enum BrokerKind {
    /// A mosquitto.conf section and ACL file: TLS with client certificates from the platform CA, the
    /// revocation list, devices only under devices/<id>/, and a password listener for the bridge.
    Mosquitto {
        /// Write mosquitto.conf and mosquitto.acl into this folder instead of printing them.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account, e.g. the first staff account. The password is asked for on a terminal, or
    /// read from the first line of standard input (`echo "$PASSWORD" | brewlink user create ...`).
    Create {
        /// The account's email address.
        #[arg(long)]
        email: String,
        /// The display name.
        #[arg(long)]
        name: Option<String>,
        /// Make the account staff (may use the admin site).
        #[arg(long)]
        staff: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration as a commented TOML file.
    Print,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("brewlink: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("brewlink: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(serve(config)),
        Command::Migrate => runtime.block_on(migrate(config)),
        Command::BrokerConfig {
            broker: BrokerKind::Mosquitto { out },
        } => runtime.block_on(mosquitto_config(config, out)),
        Command::Simulate(args) => runtime.block_on(simulate(config, args)),
        Command::User {
            command: UserCommand::Create { email, name, staff },
        } => runtime.block_on(create_user(config, email, name, staff)),
        Command::Config {
            command: ConfigCommand::Print,
        } => {
            print!("{}", config.to_commented_toml());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("brewlink: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    observability::init_logging(&config.log);
    // Listen for stop signals before anything else, so that a signal sent as soon as the server
    // says it serves is handled gracefully.
    let signals = StopSignals::register()?;
    let app = Application::build(config).await?;
    signals.stop(app.shutdown_token())?;
    match app.mqtt_addr() {
        Some(mqtt) => println!(
            "BrewLink is serving http://{} (embedded MQTT broker: bridge on {mqtt}, devices over TLS on {})",
            app.http_addr(),
            app.mqtt_tls_addr()
                .map(|addr| addr.to_string())
                .unwrap_or_default()
        ),
        None => println!(
            "BrewLink is serving http://{} (external MQTT broker)",
            app.http_addr()
        ),
    }
    app.run_until_stopped().await?;
    Ok(())
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    observability::init_logging(&config.log);
    std::fs::create_dir_all(&config.data.dir)?;
    let store = Store::connect(&config.database_url(), 1).await?;
    store.migrate().await?;
    store.close().await;
    println!("database is up to date ({})", store.backend().name());
    Ok(())
}

async fn create_user(
    config: Config,
    email: String,
    name: Option<String>,
    staff: bool,
) -> anyhow::Result<()> {
    let password = read_new_password()?;
    std::fs::create_dir_all(&config.data.dir)?;
    let store = Store::connect(&config.database_url(), 2).await?;
    store.migrate().await?;
    let services = Services::new(store.clone());
    let role = if staff { Role::Staff } else { Role::Brewer };
    let account = NewAccount {
        email,
        password,
        name,
    };
    let result = services
        .create_account(&Actor::System, account, role, &Origin::default())
        .await;
    store.close().await;
    match result {
        Ok(user) => {
            println!(
                "created {} account {} ({})",
                user.role.as_str(),
                user.email,
                user.id
            );
            Ok(())
        }
        Err(ServiceError::Validation(fields)) => {
            let problems: Vec<String> = fields
                .iter()
                .map(|(field, message)| format!("{field}: {message}"))
                .collect();
            anyhow::bail!("cannot create the account: {}", problems.join("; "))
        }
        Err(error) => anyhow::bail!("cannot create the account: {error}"),
    }
}

async fn mosquitto_config(config: Config, out: Option<PathBuf>) -> anyhow::Result<()> {
    use brewlink::broker::mosquitto::{MosquittoSettings, mosquitto_config};
    std::fs::create_dir_all(&config.data.dir)?;
    let pki = Arc::new(Pki::load_or_create(config.pki_settings())?);
    let (cert, key) = pki.broker_certificate(&config.pki.broker_names)?;
    // The revocation list as the store has it now; the server keeps it current from then on.
    let store = Store::connect(&config.database_url(), 2).await?;
    store.migrate().await?;
    write_revocation_list(&store, &pki).await?;
    store.close().await;

    let absolute = |path: PathBuf| std::path::absolute(&path).unwrap_or(path);
    let pki_dir = absolute(config.data.dir.join("pki"));
    let acl_dir = out.clone().map(absolute).unwrap_or_else(|| pki_dir.clone());
    let files = mosquitto_config(&MosquittoSettings {
        ca: &absolute(pki.ca_path()),
        cert: &absolute(cert),
        key: &absolute(key),
        crl: &pki_dir.join("crl.pem"),
        acl: &acl_dir.join("mosquitto.acl"),
        bridge_acl: &acl_dir.join("mosquitto-bridge.acl"),
        password_file: &acl_dir.join("mosquitto.passwd"),
        tls_host: config.mqtt.tls_host,
        tls_port: config.mqtt.tls_port,
        bridge_host: config.mqtt.host,
        bridge_port: config.mqtt.port,
        bridge_username: brewlink::startup::BRIDGE_USERNAME,
        // Mosquitto has one limit for every listener: the bridge's programs must fit.
        max_packet_size: config
            .mqtt
            .max_packet_size
            .max(brewlink::bridge::BRIDGE_MAX_PACKET_SIZE),
    })?;
    let written = [
        ("mosquitto.conf", &files.conf),
        ("mosquitto.acl", &files.acl),
        ("mosquitto-bridge.acl", &files.bridge_acl),
    ];
    match out {
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            for (name, text) in written {
                std::fs::write(dir.join(name), text)?;
            }
            println!(
                "wrote {0}/mosquitto.conf, {0}/mosquitto.acl and {0}/mosquitto-bridge.acl",
                dir.display()
            );
        }
        None => {
            println!("# ---- mosquitto.conf ----\n{}", files.conf);
            for (name, text) in &written[1..] {
                println!("# ---- {} ----\n{text}", acl_dir.join(name).display());
            }
        }
    }
    Ok(())
}

async fn simulate(config: Config, args: SimulateArgs) -> anyhow::Result<()> {
    use brewlink::simulator::{self, Bundle, Tuning};
    observability::init_logging(&config.log);
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // Each simulated device holds a connection.
    brewlink::descriptors::raise_limit();
    anyhow::ensure!(
        (0.05..=3600.0).contains(&args.interval),
        "--interval must be 0.05 to 3600 seconds"
    );
    anyhow::ensure!(
        args.speed > 0.0 && args.speed <= 1000.0,
        "--speed must be above 0 and at most 1000"
    );
    let mut bundles = Vec::new();
    for path in &args.bundle {
        let bytes =
            std::fs::read(path).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
        bundles.push(
            Bundle::from_zip(&bytes)
                .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?,
        );
    }
    if let Some(count) = args.count {
        let (Some(email), Some(password)) = (&args.email, &args.password) else {
            anyhow::bail!("--count needs --email and --password (or BREWLINK_SIMULATOR_PASSWORD)");
        };
        bundles.extend(simulator::register_devices(&args.server, email, password, count).await?);
    }
    anyhow::ensure!(
        !bundles.is_empty(),
        "nothing to simulate: give --bundle FILE or --count N"
    );
    for bundle in &bundles {
        println!("simulating device {}", bundle.settings.client_id);
    }
    let tuning = Tuning {
        interval: std::time::Duration::from_secs_f64(args.interval),
        speed: args.speed,
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let stop = stop_signal()?;
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        stop.await;
        stopper.cancel();
    });
    simulator::run(bundles, tuning, args.host, shutdown).await;
    Ok(())
}

/// A new password: asked twice without echo on a terminal, else the first line of standard input.
fn read_new_password() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password (at least 10 characters): ")?;
        let second = rpassword::prompt_password("Repeat the password: ")?;
        anyhow::ensure!(first == second, "the passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let password = line.trim_end_matches(['\n', '\r']).to_string();
        anyhow::ensure!(!password.is_empty(), "no password on standard input");
        Ok(password)
    }
}

/// Ctrl-C and SIGTERM for the server, handled on a thread of its own so that they work even when
/// the async runtime is stuck: the first stops the server in order; if it has not ended
/// [`startup::STOP_LIMIT`] later, or at a second signal, the process exits. Messages not stored by
/// then were never acknowledged, so devices and the broker send them again.
#[cfg(unix)]
struct StopSignals(signal_hook::iterator::Signals);

#[cfg(unix)]
impl StopSignals {
    /// Starts catching the signals (they wait for [`StopSignals::stop`]).
    fn register() -> std::io::Result<Self> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).map(Self)
    }

    /// Cancels `shutdown` at the first signal, on a thread of its own.
    fn stop(self, shutdown: tokio_util::sync::CancellationToken) -> std::io::Result<()> {
        let Self(mut signals) = self;
        std::thread::Builder::new()
            .name("stop-signals".to_string())
            .spawn(move || {
                let mut arriving = signals.forever();
                if arriving.next().is_none() {
                    return;
                }
                tracing::info!("stop signal received; shutting down");
                shutdown.cancel();
                std::thread::spawn(|| {
                    std::thread::sleep(startup::STOP_LIMIT);
                    tracing::error!(
                        limit_s = startup::STOP_LIMIT.as_secs(),
                        "could not stop in time; exiting now"
                    );
                    std::process::exit(1);
                });
                if arriving.next().is_some() {
                    tracing::warn!("second stop signal; exiting now");
                    std::process::exit(1);
                }
            })
            .map(drop)
    }
}

/// Ctrl-C for the server: the first stops it in order; after [`startup::STOP_LIMIT`] the process
/// exits.
#[cfg(not(unix))]
struct StopSignals;

#[cfg(not(unix))]
impl StopSignals {
    fn register() -> std::io::Result<Self> {
        Ok(Self)
    }

    fn stop(self, shutdown: tokio_util::sync::CancellationToken) -> std::io::Result<()> {
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
            std::thread::spawn(|| {
                std::thread::sleep(startup::STOP_LIMIT);
                std::process::exit(1);
            });
        });
        Ok(())
    }
}

/// Registers for Ctrl-C and SIGTERM now; the returned future resolves when either arrives.
#[cfg(unix)]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Registers for Ctrl-C; the returned future resolves when it arrives.
#[cfg(not(unix))]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
