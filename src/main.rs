//! The `fingertip` command line: serve, migrate, print the OpenAPI document, verify the audit log.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fingertip::config::Config;

/// mimalloc serves the server's heap. Under the submission load glibc's allocator was about a
/// fifth of the server's CPU (per-thread arenas, consolidation, and a map and unmap for every
/// block of 128 KiB or more, such as a batch of uploads' bytes going to the database). In
/// paired bench runs mimalloc took about a tenth off the server's CPU per submission
/// (docs/performance.md). It gives freed pages back to the system by itself, so glibc's mmap threshold
/// no longer needs pinning against arena fragmentation; the peak is somewhat higher (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "fingertip", version, about = "网上行政审批平台 backend")]
struct Cli {
    /// Configuration file (default: ./fingertip.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (starts the embedded PostgreSQL cluster when DATABASE_URL is unset).
    Serve {
        /// Load the demo catalog into an empty database (same as FINGERTIP_DEMO_DATA=1).
        #[arg(long)]
        demo_data: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Staff account tools.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Create a platform administrator (the first account of a new installation). The password
    /// is read from FINGERTIP_BOOTSTRAP_PASSWORD, or from the first line of standard input.
    CreateAdmin {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "平台管理员")]
        display_name: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every hash chain and signed checkpoint; report the first broken link.
    Verify,
    /// Sign a checkpoint of all chain heads now.
    Checkpoint,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        // The services start their background tasks (the file-row writer) when built, so even
        // printing the document needs a runtime; a small one, without config or database.
        let spec = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(async { fingertip::app::openapi_spec_json() }));
        return match spec {
            Ok(spec) => {
                println!("{spec}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(err) => {
            eprintln!("configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    fingertip::logging::init(&config.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(code) => code,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "fatal");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, mut config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { demo_data } => {
            if demo_data {
                config.demo_data = true;
            }
            match fingertip::open_files::raise_to_hard_limit() {
                Ok(limit) => tracing::info!(limit, "open files"),
                Err(err) => tracing::warn!(error = %err, "the open-files limit stays as it was"),
            }
            let running = fingertip::app::start(config, true).await?;
            running.wait().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            with_database(&config, |pool| async move {
                let applied = fingertip::db::migrate(&pool).await?;
                println!(
                    "applied {} migration(s): {}",
                    applied.len(),
                    applied.join(", ")
                );
                Ok(ExitCode::SUCCESS)
            })
            .await
        }
        Command::Audit { command } => {
            let signer = fingertip::audit::AuditSigner::load_or_create(&config.audit_key_path())
                .context("audit signing key")?;
            with_database(&config, |pool| async move {
                let client = pool.get().await.context("database connection")?;
                match command {
                    AuditCommand::Verify => {
                        let report = fingertip::audit::verify(&client, signer.public_key()).await?;
                        println!("{report}");
                        Ok(if report.first_problem.is_none() {
                            ExitCode::SUCCESS
                        } else {
                            ExitCode::FAILURE
                        })
                    }
                    AuditCommand::Checkpoint => {
                        match fingertip::audit::checkpoint(&client, &signer).await? {
                            Some(id) => println!("signed checkpoint {id}"),
                            None => println!("no change since the last checkpoint"),
                        }
                        Ok(ExitCode::SUCCESS)
                    }
                }
            })
            .await
        }
        Command::Staff {
            command:
                StaffCommand::CreateAdmin {
                    username,
                    display_name,
                },
        } => {
            let password = match std::env::var("FINGERTIP_BOOTSTRAP_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            with_database(&config, |pool| async move {
                fingertip::db::migrate(&pool).await?;
                let id = fingertip::identity::staff::create_platform_admin(
                    &pool,
                    &username,
                    &display_name,
                    password,
                )
                .await?;
                println!("created platform administrator {username} ({id})");
                Ok(ExitCode::SUCCESS)
            })
            .await
        }
        Command::Openapi => Ok(ExitCode::SUCCESS),
    }
}

/// Runs `work` with a pool, then closes it and stops the embedded cluster if we started one.
async fn with_database<F, Fut>(config: &Config, work: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(deadpool_postgres::Pool) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    let database = fingertip::db::connect(&config.database()).await?;
    let result = work(database.pool.clone()).await;
    database.pool.close();
    if let Some(cluster) = database.embedded {
        cluster.stop().await?;
    }
    result
}
