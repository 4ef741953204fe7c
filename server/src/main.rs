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
    let app = Application::build(config).await?;
    let shutdown = app.shutdown_token();
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
    tokio::spawn(async move {
        wait_for_stop_signal().await;
        tracing::info!("stop signal received; shutting down");
        shutdown.cancel();
    });
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

/// Resolves on Ctrl-C or SIGTERM.
async fn wait_for_stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
