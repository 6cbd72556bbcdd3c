//! Wires configuration, the database, services, routes and background workers together, and
//! shuts them down gracefully: in-flight requests finish, the pool closes, the embedded cluster
//! stops.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::Pool;
use poem::listener::{Acceptor, Listener, TcpListener};

use poem::http::Method;
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;

use crate::audit::{self, AuditSigner};
use crate::blobs::{BlobStore, FileBlobStore};
use crate::calendar::api::CalendarApi;
use crate::calendar::service::CalendarService;
use crate::cases::agents::AgentsApi;
use crate::cases::api::CasesApi;
use crate::cases::files::MaterialFiles;
use crate::cases::files_api::{CaseFilesApi, OWN_LIMIT_ROUTES};
use crate::cases::progress::ProgressApi;
use crate::catalog::api::CatalogApi;
use crate::catalog::service::CatalogService;
use crate::config::Config;
use crate::db;
use crate::department::api::DepartmentApi;
use crate::health::HealthApi;
use crate::http::catch_all::problem_for_error;
use crate::http::metrics::{Metrics, MetricsMiddleware};
use crate::http::request_id::RequestIdMiddleware;
use crate::http::serve::{Deadlines, serve};
use crate::http::shared_token::SharedToken;
use crate::identity::api::IdentityApi;
use crate::identity::gate::Gate;
use crate::identity::setup::IdentitySecrets;
use crate::licences::api::LicencesApi;
use crate::mode::Mode;
use crate::notify::api::NotifyApi;
use crate::notify::me_api::NotifyMeApi;
use crate::notify::me_email::NotifyEmailApi;
use crate::notify::outbox::OutboxSettings;
use crate::notify::receipts::ReceiptsApi;
use crate::seals::api::SealsApi;
use crate::secret::Secret;

pub const API_TITLE: &str = "fingertip 网上行政审批平台 API";

/// The services every API shares.
pub struct Services {
    pub pool: Pool,
    /// The application's one clock (see [`crate::clock`]).
    pub clock: crate::clock::Clock,
    pub metrics: Metrics,
    /// Authentication and authorization for every non-public endpoint.
    pub gate: Gate,
    pub identity: IdentityApi,
    pub calendar: Arc<CalendarService>,
    pub catalog: Arc<CatalogService>,
    /// Applicants' material files (资料交一份), in the same blob store as the catalog's forms.
    pub files: MaterialFiles,
    pub outbox: OutboxSettings,
    /// The codes proving an owner's notification email address.
    pub email_verification: crate::notify::setup::EmailVerificationConfig,
    /// The token the SMS providers' receipt callbacks carry; `None` closes them.
    pub receipt_token: Option<Arc<SharedToken>>,
    /// The token a metrics scraper presents; `None` leaves `/metrics` open (development only).
    pub metrics_token: Option<Arc<SharedToken>>,
    pub cases: crate::cases::service::CaseService,
    pub seals: crate::seals::registry::SealRegistry,
    pub licences: crate::licences::service::LicenceService,
    pub blobs: Arc<dyn BlobStore>,
    /// The largest request body outside the material routes (`max_body_bytes`).
    pub max_body_bytes: usize,
}

impl Services {
    pub fn new(config: &Config, pool: Pool, secrets: IdentitySecrets) -> anyhow::Result<Services> {
        let blobs: Arc<dyn BlobStore> = Arc::new(FileBlobStore::new(config.data_dir.join("blobs")));
        let identity = crate::identity::setup::build(
            &config.identity,
            pool.clone(),
            config.notify.outbox(),
            secrets.token_key,
            secrets.pii,
            // Identity proves accounts; the cases room joins window cases to them.
            Arc::new(crate::cases::claims::WindowCasesJoin),
        )?;
        let seals = crate::seals::registry::SealRegistry::new(
            pool.clone(),
            Arc::new(secrets.seal),
            config.cases.seal_ca_name.clone(),
            config.clock(),
        );
        let clock = config.clock();
        let calendar = Arc::new(CalendarService::new(pool.clone(), clock));
        let catalog = Arc::new(CatalogService::new(
            pool.clone(),
            blobs.clone(),
            // The catalog publishes guides; the cases room tells open cases what changed.
            Arc::new(crate::cases::item_change::OpenCasesTold {
                outbox: config.notify.outbox(),
            }),
        ));
        let issuer = crate::cases::issuing::DocumentIssuer::new(
            &config.cases.document_font,
            seals.clone(),
            blobs.clone(),
            &config.cases.public_base_url,
        );
        let licences = crate::licences::service::LicenceService::new(
            pool.clone(),
            blobs.clone(),
            config.notify.outbox(),
            &config.cases.public_base_url,
            clock,
        );
        let cases = crate::cases::service::CaseService::new(
            pool.clone(),
            calendar.clone(),
            catalog.clone(),
            identity.citizens.keys.clone(),
            config.notify.outbox(),
            issuer,
            clock,
        )
        .with_max_suspension(config.cases.max_suspension_working_days);
        Ok(Services {
            clock,
            metrics: Metrics::new()?,
            gate: identity.gate.clone(),
            identity,
            calendar,
            catalog,
            cases,
            seals,
            licences,
            files: MaterialFiles::new(pool.clone(), blobs.clone(), config.cases.max_material_bytes),
            blobs,
            max_body_bytes: config.max_body_bytes,
            outbox: config.notify.outbox(),
            email_verification: config.notify.email_verification.clone(),
            receipt_token: shared_token(config.notify.receipt_token.as_ref())?,
            metrics_token: shared_token(config.metrics_token.as_ref())?,
            pool,
        })
    }
}

/// The process's check of a configured shared token (see [`SharedToken`]).
fn shared_token(token: Option<&Secret>) -> anyhow::Result<Option<Arc<SharedToken>>> {
    token.map(|t| SharedToken::new(t).map(Arc::new)).transpose()
}

type Apis = (
    HealthApi,
    CalendarApi,
    DepartmentApi,
    CatalogApi,
    NotifyApi,
    NotifyMeApi,
    NotifyEmailApi,
    ReceiptsApi,
    IdentityApi,
    CasesApi,
    ProgressApi,
    AgentsApi,
    SealsApi,
    CaseFilesApi,
    LicencesApi,
);

pub fn openapi_service(services: &Services) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            HealthApi {
                pool: services.pool.clone(),
                metrics: services.metrics.clone(),
                sessions: services.gate.session_cache().clone(),
                calendar: services.calendar.clone(),
                token: services.metrics_token.clone(),
            },
            CalendarApi {
                service: services.calendar.clone(),
                gate: services.gate.clone(),
            },
            DepartmentApi {
                pool: services.pool.clone(),
                gate: services.gate.clone(),
            },
            CatalogApi {
                service: services.catalog.clone(),
                gate: services.gate.clone(),
                pool: services.pool.clone(),
                max_form_bytes: services.max_body_bytes,
            },
            NotifyApi {
                pool: services.pool.clone(),
                gate: services.gate.clone(),
                outbox: services.outbox.clone(),
            },
            NotifyMeApi {
                pool: services.pool.clone(),
                gate: services.gate.clone(),
            },
            NotifyEmailApi {
                pool: services.pool.clone(),
                gate: services.gate.clone(),
                keys: services.identity.citizens.keys.clone(),
                outbox: services.outbox.clone(),
                settings: services.email_verification.clone(),
            },
            ReceiptsApi::new(
                services.pool.clone(),
                services.receipt_token.clone(),
                Some(services.metrics.clone()),
            ),
            services.identity.clone(),
            CasesApi {
                service: services.cases.clone(),
                gate: services.gate.clone(),
                files: services.files.clone(),
            },
            ProgressApi {
                service: services.cases.clone(),
                citizens: services.identity.citizens.clone(),
            },
            AgentsApi {
                pool: services.pool.clone(),
                gate: services.gate.clone(),
                clock: services.clock,
            },
            SealsApi {
                pool: services.pool.clone(),
                gate: services.gate.clone(),
                registry: services.seals.clone(),
            },
            CaseFilesApi {
                pool: services.pool.clone(),
                gate: services.gate.clone(),
                files: services.files.clone(),
            },
            LicencesApi {
                service: services.licences.clone(),
                gate: services.gate.clone(),
                max_upload_bytes: services.files.max_bytes(),
            },
        ),
        API_TITLE,
        env!("CARGO_PKG_VERSION"),
    )
}

/// The OpenAPI document as committed in `openapi/openapi.json`. Call it on a Tokio runtime:
/// building the services starts their background tasks.
pub fn openapi_spec_json() -> anyhow::Result<String> {
    // A pool that never connects: the spec only needs the shapes.
    let pool = db::pool_for(tokio_postgres::Config::new(), 1)?;
    let services = Services::new(&Config::default(), pool, IdentitySecrets::ephemeral()?)?;
    crate::http::spec::with_framework_statuses(&openapi_service(&services).spec())
}

/// Every route, with middleware: request id (outermost, so every log line has it), metrics,
/// no NUL character in the URL, body size limit (material uploads excepted: they stream under
/// `[cases] max_material_bytes`), and problem+json for every error.
pub fn routes(config: &Config, services: &Services) -> anyhow::Result<impl Endpoint + 'static> {
    let api = openapi_service(services);
    let generated = api.spec();
    let spec = crate::http::spec::with_framework_statuses(&generated)?;
    // Swagger UI embeds the document it shows: the served one, not poem-openapi's.
    let docs_html = api.swagger_ui_html().replace(&generated, &spec);
    let docs = poem::endpoint::make_sync(move |_| poem::web::Html(docs_html.clone()));
    let spec = poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/json")
            .body(spec.clone())
    });
    let body_limit = OWN_LIMIT_ROUTES.into_iter().fold(
        crate::http::body_limit::BodyLimit::new(config.max_body_bytes)
            .own_limit(Method::POST, crate::licences::api::VERIFY_UPLOAD_PATH),
        |limit, (method, path)| limit.own_limit(method, path),
    );
    Ok(Route::new()
        .nest("/", api)
        .at("/docs", docs)
        .at("/openapi.json", spec)
        .with(body_limit)
        .with(crate::http::nul_guard::NulGuard)
        .catch_all_error(problem_for_error)
        .with(MetricsMiddleware(services.metrics.clone()))
        .with(RequestIdMiddleware))
}

/// A running server: its address and the handle that stops it.
pub struct Running {
    pub address: std::net::SocketAddr,
    /// The certificate-login (mTLS) listener's address, when configured.
    pub mtls_address: Option<std::net::SocketAddr>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Asks for a graceful shutdown and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.context("server task")?
    }

    /// Waits until the server stops by itself (after a signal).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task")?
    }
}

/// How long requests in progress may finish after the stop signal before they are cut off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Connects (starting the embedded cluster when no `DATABASE_URL`), migrates, loads demo data
/// when asked, starts background workers and serves until `stop` or SIGINT/SIGTERM.
pub async fn start(config: Config, handle_signals: bool) -> anyhow::Result<Running> {
    crate::tls::install_crypto_provider();
    let database = db::connect(&config.database()).await?;
    let result = start_with(
        config,
        database.pool.clone(),
        database.listen.clone(),
        handle_signals,
    )
    .await;
    match result {
        Ok(mut running) => {
            if let Some(cluster) = database.embedded {
                // Stop the embedded cluster after the server task has finished.
                let task = running.task;
                running.task = tokio::spawn(async move {
                    let served = task.await.context("server task")?;
                    database.pool.close();
                    if let Err(err) = cluster.stop().await {
                        tracing::error!(error = %err, "stopping the embedded cluster");
                    }
                    served
                });
            }
            Ok(running)
        }
        Err(err) => {
            if let Some(cluster) = database.embedded {
                let _ = cluster.stop().await;
            }
            Err(err)
        }
    }
}

pub async fn start_with(
    config: Config,
    pool: Pool,
    listen: db::ListenConnector,
    handle_signals: bool,
) -> anyhow::Result<Running> {
    let applied = db::migrate(&pool).await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "migrations applied");
    }
    let secrets = IdentitySecrets::load(
        &config.identity,
        &config.data_dir,
        config.mode,
        &config.cases.seal_key_path(&config.data_dir),
    )?;
    let services = Services::new(&config, pool.clone(), secrets)?;
    // Acceptances and decisions issue sealed PDFs: without the font, refuse to start.
    services
        .cases
        .issuer()
        .load_fonts()
        .await
        .context("the documents' CJK font ([cases] document_font)")?;
    let dispatcher = config.notify.dispatcher(
        pool.clone(),
        Some(services.metrics.clone()),
        config.mode,
        services.blobs.clone(),
    )?;
    let demo_only = dispatcher.providers.demo_only();
    if config.mode == Mode::Production && !demo_only.is_empty() {
        anyhow::bail!(
            "production mode refuses the log-only demo providers ({}): configure real ones under [notify]",
            demo_only.join(", ")
        );
    }
    crate::identity::setup::refuse_demo_realname(
        config.mode,
        &*services.identity.citizens.realname,
    )?;
    if config.demo_data {
        if config.mode == Mode::Production {
            anyhow::bail!("demo data is never loaded in production mode");
        }
        if crate::catalog::demo::load_demo(&pool, &services.catalog).await? {
            tracing::info!("demo catalog loaded");
        }
        let seals = services.seals.create_missing_demo_seals().await?;
        if seals > 0 {
            tracing::info!(seals, "demo seals created for the demo departments");
        }
        if crate::identity::demo::load_demo_staff(&pool, &config.identity.demo_password).await? {
            tracing::info!(
                usernames = ?crate::identity::demo::DEMO_STAFF.iter().map(|s| s.0).collect::<Vec<_>>(),
                "demo staff created with the configured demo password (identity.demo_password)"
            );
        }
    }
    let signer = Arc::new(
        AuditSigner::load_or_create(&config.audit_key_path()).context("audit signing key")?,
    );
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let checkpointer = audit::spawn_checkpointer(
        pool.clone(),
        signer,
        Duration::from_secs(config.audit_checkpoint_seconds),
        shutdown_rx.clone(),
    );

    let smpp_receipts = dispatcher.spawn_smpp_receipts(shutdown_rx.clone());
    let dispatch_worker = config
        .notify
        .dispatch
        .then(|| dispatcher.spawn(shutdown_rx.clone()));

    let verifier = services
        .identity
        .enterprises
        .as_ref()
        .map(|e| e.verifier.clone());
    let session_listener = crate::identity::session_cache::spawn_listener(
        services.gate.session_cache().clone(),
        listen,
        shutdown_rx.clone(),
    );
    let deadline_recompute = services.cases.spawn_deadline_recompute(shutdown_rx.clone());
    let calendar_edge = crate::calendar_edge::spawn_watch(
        pool.clone(),
        services.calendar.clone(),
        config.notify.outbox(),
        shutdown_rx.clone(),
    );
    let housekeeping = crate::identity::housekeeping::spawn(
        pool.clone(),
        Duration::from_secs(600),
        shutdown_rx.clone(),
    );
    let crl_refresh = verifier.clone().map(|v| {
        crate::identity::mtls_listener::spawn_crl_refresh(
            v,
            Duration::from_secs(config.identity.crl_refresh_seconds.max(1)),
            shutdown_rx.clone(),
        )
    });
    let mtls = match (&config.identity.mtls, verifier) {
        (Some(mtls_config), Some(verifier)) => {
            let (acceptor, address) =
                crate::identity::mtls_listener::bind(mtls_config, verifier).await?;
            tracing::info!(%address, "certificate login (mTLS) listening");
            Some((acceptor, address, routes(&config, &services)?))
        }
        (Some(_), None) => anyhow::bail!(
            "identity.mtls needs identity.certificates: the trust anchors that client certificates are verified against"
        ),
        (None, _) => None,
    };
    let mtls_address = mtls.as_ref().map(|m| m.1);
    let endpoint = routes(&config, &services)?;
    let acceptor = TcpListener::bind(config.listen)
        .into_acceptor()
        .await
        .context("binding the listener")?;
    let address = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("listener address")?;
    tracing::info!(%address, mode = ?config.mode, "fingertip listening");
    let deadlines = Deadlines {
        idle: Duration::from_secs(config.http_idle_timeout_seconds),
        header: Duration::from_secs(config.http_header_timeout_seconds),
        shutdown_grace: SHUTDOWN_GRACE,
    };

    let mtls_stop = shutdown_rx.clone();
    let stop_all = shutdown_tx.clone();
    let mut stop_rx = shutdown_rx;
    let task = tokio::spawn(async move {
        let signal = async move {
            tokio::select! {
                _ = stop_rx.wait_for(|stop| *stop) => {},
                _ = shutdown_signal(handle_signals) => { tracing::info!("shutdown signal received"); },
            }
        };
        let mtls_task = mtls.map(|(acceptor, _, endpoint)| {
            let mut stop = mtls_stop;
            tokio::spawn(async move {
                let signal = async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                };
                serve(acceptor, endpoint, signal, deadlines).await
            })
        });
        serve(acceptor, endpoint, signal, deadlines).await;
        // The main server has stopped (signal or stop()): stop the mTLS one too.
        let _ = stop_all.send(true);
        if let Some(task) = mtls_task {
            let _ = task.await;
        }
        if let Some(task) = crl_refresh {
            task.abort();
        }
        housekeeping.abort();
        calendar_edge.abort();
        // A batch cut off mid-way rolls back; the job resumes after the last one committed.
        deadline_recompute.abort();
        session_listener.abort();
        checkpointer.abort();
        if let Some(task) = smpp_receipts {
            task.abort();
        }
        if let Some(worker) = dispatch_worker {
            // It finishes its batch (the row locks make a cut-off send safe to redo) and exits.
            let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
        }
        pool.close();
        tracing::info!("server stopped");
        Ok(())
    });
    Ok(Running {
        address,
        mtls_address,
        shutdown: shutdown_tx,
        task,
    })
}

async fn shutdown_signal(enabled: bool) {
    if !enabled {
        return std::future::pending().await;
    }
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
