//! The `brewlink` command.

use std::{path::PathBuf, process::ExitCode};

use brewlink::{
    auth::{Actor, Role},
    config::Config,
    observability,
    services::{Origin, ServiceError, Services, accounts::NewAccount},
    startup::Application,
    store::Store,
};
use clap::{Parser, Subcommand};

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
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
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
    let stop_signal = stop_signal()?;
    let app = Application::build(config).await?;
    let shutdown = app.shutdown_token();
    tokio::spawn(async move {
        stop_signal.await;
        tracing::info!("stop signal received; shutting down");
        shutdown.cancel();
    });
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
