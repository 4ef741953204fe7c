//! The `brewlink` command.

use std::{path::PathBuf, process::ExitCode};

use brewlink::{config::Config, observability, startup::Application, store::Store};
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
            "BrewLink is serving http://{} (embedded MQTT broker on {mqtt})",
            app.http_addr()
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
