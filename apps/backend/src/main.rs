//! The `solace` command: serve the app, run migrations, or check a running server.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use solace_backend::{telemetry, Application, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Parser)]
#[command(
    name = "solace",
    version,
    about = "Solace: an AI therapist and social audio spaces"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web app and API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Exit 0 when the server on this machine answers /healthz (for container health checks).
    Healthcheck,
    /// Manage administrators.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Make the account with this email an administrator.
    Grant { email: String },
    /// Make the account with this email an ordinary user again.
    Revoke { email: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => return fail(&format!("invalid configuration: {e}")),
    };
    let command = cli.command.unwrap_or(Command::Serve);
    if !matches!(command, Command::Healthcheck) {
        telemetry::init(config.log_format);
    }
    let outcome = match command {
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(config).await,
        Command::Healthcheck => healthcheck(&config).await,
        Command::Admin { action } => admin(config, action).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

/// One line on stderr that says what is wrong, and a non-zero exit.
fn fail(message: &str) -> ExitCode {
    eprintln!("solace: {message}");
    ExitCode::FAILURE
}

async fn serve(config: Config) -> Result<(), String> {
    let app = Application::build(config)
        .await
        .map_err(|e| e.to_string())?;
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

async fn migrate(config: Config) -> Result<(), String> {
    solace_backend::AppState::build(config)
        .await
        .map(|_| tracing::info!("migrations are up to date"))
        .map_err(|e| e.to_string())
}

async fn admin(config: Config, action: AdminAction) -> Result<(), String> {
    let (email, role) = match &action {
        AdminAction::Grant { email } => (email, "admin"),
        AdminAction::Revoke { email } => (email, "user"),
    };
    let state = solace_backend::AppState::build(config)
        .await
        .map_err(|e| e.to_string())?;
    let email = solace_backend::auth::Email::parse(email).map_err(|e| e.to_string())?;
    let user = solace_backend::users::find_by_email(&state.db, email.as_str())
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no account has the email {}", email.as_str()))?;
    solace_backend::users::set_role(&state.db, &user.id, role)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(user_id = %user.id, role, "role changed");
    Ok(())
}

async fn healthcheck(config: &Config) -> Result<(), String> {
    let host = if config.host.is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        config.host.to_string()
    };
    let addr = format!("{host}:{}", config.port);
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(&addr).await?;
        stream
            .write_all(format!("GET /healthz HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        Ok::<_, std::io::Error>(head.ends_with(b"200"))
    };
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(format!("http://{addr}/healthz did not answer 200")),
        Ok(Err(e)) => Err(format!("cannot reach http://{addr}/healthz: {e}")),
        Err(_) => Err(format!("http://{addr}/healthz timed out")),
    }
}
