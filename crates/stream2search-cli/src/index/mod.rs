//! `stream2search index`: versioned indexes behind aliases, with a mapping that refuses no item.
//!
//! Layout (`docs/mapping.md`): the index `NAME-000001` holds the documents; the alias `NAME` is
//! its write alias (`is_write_index`), through which the Lambda, `replay` and `poll` write; the
//! alias `NAME-read` is for searches. Both name the same index until a reindex
//! (`stream2search reindex`, docs/reindex.md) builds `NAME-000002`: the stream mirrors its writes
//! into it through the alias `NAME-mirror` while it is backfilled, then `NAME` and `NAME-read`
//! move to it in one `_aliases` call.

pub mod mapping;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use http::Method;
use serde_json::{Value, json};
use stream2search_client::Client;

use crate::{AuthKind, Connection};
use mapping::{Options, UserMapping};

/// Arguments of `stream2search index`.
#[derive(clap::Args)]
pub struct Index {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Create NAME-000001 with the mapping, and the aliases NAME (writes) and NAME-read.
    ///
    /// Idempotent: on a finished setup it changes nothing and says so; a setup left half done
    /// is finished. An index or alias in the way is an error, and nothing is overwritten.
    ///
    /// Exit status: 0 when the setup is complete, 1 when something in the way was left as it
    /// is, 2 for usage errors, a bad --mapping file and a server that cannot be used.
    Create(Create),
    /// Print the exact body `index create` sends (for CloudFormation, Terraform, ...).
    Mapping(Mapping),
    /// Show where the aliases point, the document counts and the settings that matter.
    ///
    /// Exit status: 0 when NAME is set up as `index create` leaves it, 1 when it is not, 2 for
    /// usage errors and a server that cannot be used.
    Status(Status),
}

#[derive(clap::Args)]
struct Shape {
    /// Mappings for named attributes, `{"properties": {"name": {"type": "text"}}}`; they merge
    /// with the catch-all rules.
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// Primary shards (default: the server's).
    #[arg(long)]
    shards: Option<u32>,
    /// Replicas (default: the server's).
    #[arg(long)]
    replicas: Option<u32>,
    /// How long a delete is remembered against older writes (index.gc_deletes).
    #[arg(long, default_value = mapping::DEFAULT_GC_DELETES)]
    gc_deletes: String,
    /// Most fields in the mapping (index.mapping.total_fields.limit; default: the server's,
    /// 1000). Each top-level attribute takes one; when they run out, dynamic mapping stops.
    #[arg(long)]
    field_limit: Option<u32>,
}

#[derive(clap::Args)]
struct Create {
    /// The alias to write through; the index is NAME-000001.
    name: String,
    #[command(flatten)]
    shape: Shape,
    #[command(flatten)]
    connection: Connection,
    /// Limit for each request, in seconds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

#[derive(clap::Args)]
struct Mapping {
    /// With a name, the body also holds the aliases, exactly as `index create NAME` sends it.
    name: Option<String>,
    #[command(flatten)]
    shape: Shape,
    /// The body for OpenSearch Serverless (no index settings).
    #[arg(long)]
    serverless: bool,
}

#[derive(clap::Args)]
struct Status {
    /// The write alias given to `index create`.
    name: String,
    #[command(flatten)]
    connection: Connection,
    /// Limit for each request, in seconds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

/// Runs `stream2search index ...`.
pub fn run(args: Index) -> ExitCode {
    match args.command {
        Command::Mapping(args) => print_mapping(args),
        Command::Create(args) => {
            // Usage and --mapping errors come before any connection.
            let serverless = args.connection.auth == AuthKind::SigV4Aoss;
            let (user, options) =
                match check_name(&args.name).and_then(|()| shape(&args.shape, serverless)) {
                    Ok(shape) => shape,
                    Err(e) => return crate::fatal(&e),
                };
            with_server(&args.connection, args.timeout, |server| {
                create(server, &args.name, user.as_ref(), &options)
            })
        }
        Command::Status(args) => with_server(&args.connection, args.timeout, |server| {
            status(server, &args.name)
        }),
    }
}

fn print_mapping(args: Mapping) -> ExitCode {
    let (user, options) = match shape(&args.shape, args.serverless) {
        Ok(s) => s,
        Err(e) => return crate::fatal(&e),
    };
    let aliases = match args
        .name
        .as_deref()
        .map(|n| check_name(n).map(|()| aliases(n)))
    {
        Some(Err(e)) => return crate::fatal(&e),
        Some(Ok(a)) => Some(a),
        None => None,
    };
    let body = mapping::body(user.as_ref(), &options, aliases.as_ref());
    println!(
        "{}",
        serde_json::to_string_pretty(&body).expect("a JSON value prints")
    );
    ExitCode::SUCCESS
}

/// The user mapping and the options, or the error as a message.
fn shape(shape: &Shape, serverless: bool) -> Result<(Option<UserMapping>, Options), String> {
    mapping::check_gc_deletes(&shape.gc_deletes)?;
    let user = match &shape.mapping {
        None => None,
        Some(path) => {
            let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(UserMapping::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?)
        }
    };
    if serverless
        && (shape.shards.is_some() || shape.replicas.is_some() || shape.field_limit.is_some())
    {
        return Err("OpenSearch Serverless takes no index settings but the refresh interval: drop --shards, --replicas and --field-limit".into());
    }
    let options = Options {
        shards: shape.shards,
        replicas: shape.replicas,
        gc_deletes: shape.gc_deletes.clone(),
        field_limit: shape.field_limit,
        serverless,
    };
    Ok((user, options))
}

/// Index names as OpenSearch allows them, leaving room for the `-000001` suffix.
fn check_name(name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.len() > 200
        || name.starts_with(['_', '-', '+', '.'])
        || name
            .chars()
            .any(|c| c.is_ascii_uppercase() || " \\/*?\"<>|,#:".contains(c));
    if bad {
        Err(format!(
            "{name:?} is not a usable index name: lower case, no spaces or \\/*?\"<>|,#:, not \
             starting with _ - + or ., at most 200 bytes"
        ))
    } else {
        Ok(())
    }
}

fn generation_name(name: &str, generation: u32) -> String {
    format!("{name}-{generation:06}")
}

fn read_alias(name: &str) -> String {
    format!("{name}-read")
}

fn aliases(name: &str) -> Value {
    json!({ name: {"is_write_index": true}, read_alias(name): {} })
}

/// A connection to the server, for one command.
struct Server {
    runtime: tokio::runtime::Runtime,
    client: Client,
    serverless: bool,
    timeout: Duration,
}

/// A failure that leaves the command with nothing more to do.
enum Stop {
    /// Something in the way: said, and left as it is (exit 1).
    Conflict(String),
    /// The server could not be used, or refused a request (exit 2).
    Failed(String),
}

impl Server {
    /// `METHOD path` with an optional JSON body: the status and the JSON answer.
    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<(u16, Value), Stop> {
        let bytes = body.map(|b| serde_json::to_vec(b).expect("a JSON value serialises"));
        let what = format!("{method} /{path}");
        let (status, answer) = self
            .runtime
            .block_on(
                self.client
                    .call(method, path, bytes.as_deref(), self.timeout),
            )
            .map_err(|e| Stop::Failed(format!("{what}: {e}")))?;
        let json = if answer.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&answer)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer).into()))
        };
        if status == 401 || status == 403 {
            return Err(Stop::Failed(format!(
                "{what}: {status} {}: check --auth and the credentials' permissions",
                reason(&json)
            )));
        }
        Ok((status, json))
    }

    /// Like [`call`](Server::call), but any status other than 2xx is a failure.
    fn ok(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, Stop> {
        let what = format!("{method} /{path}");
        let (status, json) = self.call(method, path, body)?;
        if (200..300).contains(&status) {
            Ok(json)
        } else {
            Err(Stop::Failed(format!("{what}: {status} {}", reason(&json))))
        }
    }
}

/// The `error.type: error.reason` of an OpenSearch error answer.
fn reason(json: &Value) -> String {
    let error = &json["error"];
    match (error["type"].as_str(), error["reason"].as_str()) {
        (Some(t), Some(r)) => format!("{t}: {r}"),
        _ => match json {
            Value::String(s) => s.chars().take(200).collect(),
            _ => json.to_string().chars().take(200).collect(),
        },
    }
}

fn with_server(
    connection: &Connection,
    timeout: u64,
    run: impl FnOnce(&Server) -> Result<bool, Stop>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return crate::fatal(&format!("starting the runtime: {e}")),
    };
    let client = {
        let _entered = runtime.enter();
        match connection.client(true) {
            Ok(c) => c,
            Err(e) => return crate::fatal(&e),
        }
    };
    let server = Server {
        runtime,
        client,
        serverless: connection.auth == AuthKind::SigV4Aoss,
        timeout: Duration::from_secs(timeout),
    };
    match run(&server) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Stop::Conflict(message)) => {
            eprintln!("stream2search: {message}; nothing changed");
            ExitCode::from(1)
        }
        Err(Stop::Failed(message)) => crate::fatal(&message),
    }
}

/// What `_resolve/index/NAME` says of one name.
#[derive(Debug, PartialEq)]
enum Found {
    Nothing,
    Index,
    /// An alias, and the indexes it names.
    Alias(Vec<String>),
}

fn resolve(server: &Server, name: &str) -> Result<Found, Stop> {
    let (status, json) = server.call(Method::GET, &format!("_resolve/index/{name}"), None)?;
    if status == 404 {
        return Ok(Found::Nothing);
    }
    if status != 200 {
        return Err(Stop::Failed(format!(
            "GET /_resolve/index/{name}: {status} {}",
            reason(&json)
        )));
    }
    let named = |list: &str| {
        json[list]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["name"] == name)
            .cloned()
    };
    if named("indices").is_some() {
        return Ok(Found::Index);
    }
    if let Some(alias) = named("aliases") {
        let mut indexes: Vec<String> = alias["indices"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.as_str().map(String::from))
            .collect();
        indexes.sort();
        return Ok(Found::Alias(indexes));
    }
    Ok(Found::Nothing)
}

/// The `mappings` of `index`.
fn mappings(server: &Server, index: &str) -> Result<Value, Stop> {
    let mut json = server.ok(Method::GET, &format!("{index}/_mapping"), None)?;
    Ok(json[index]["mappings"].take())
}

/// The `_meta.stream2search` of an index's `mappings`, if it has one.
fn our_meta(mappings: &Value) -> Option<&Value> {
    mappings["_meta"]["stream2search"]
        .as_object()
        .map(|_| &mappings["_meta"]["stream2search"])
}

/// Whether `index` is a generation of `name` (`name-000001`, `name-000002`, ...).
fn is_generation(name: &str, index: &str) -> bool {
    index
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|n| n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit()))
}

fn create(
    server: &Server,
    name: &str,
    user: Option<&UserMapping>,
    options: &Options,
) -> Result<bool, Stop> {
    let first = generation_name(name, 1);
    let read = read_alias(name);
    let want = mapping::meta(user, options);
    if server.serverless {
        println!(
            "OpenSearch Serverless: index.mapping.ignore_malformed and index.gc_deletes cannot be \
             set there (docs/mapping.md); an attribute that holds a map in one item and a value \
             in another can be refused"
        );
    }

    // Which index the write alias names, if the setup was begun before.
    let found = resolve(server, name)?;
    let write_alias_exists = matches!(found, Found::Alias(_));
    let current = match found {
        Found::Index => {
            return Err(Stop::Conflict(format!(
                "{name} is an index, not an alias; index create needs the name for its write alias"
            )));
        }
        Found::Alias(indexes) => {
            let ours: Vec<&String> = indexes.iter().filter(|i| is_generation(name, i)).collect();
            match ours.as_slice() {
                [one] if indexes.len() == 1 => Some((*one).clone()),
                _ => {
                    return Err(Stop::Conflict(format!(
                        "the alias {name} names {}, not one index {name}-NNNNNN",
                        indexes.join(", ")
                    )));
                }
            }
        }
        Found::Nothing => match resolve(server, &first)? {
            Found::Index => Some(first.clone()),
            Found::Alias(_) => {
                return Err(Stop::Conflict(format!("{first} is an alias, not an index")));
            }
            Found::Nothing => None,
        },
    };
    let read_target = match resolve(server, &read)? {
        Found::Index => {
            return Err(Stop::Conflict(format!(
                "{read} is an index; the read alias needs the name"
            )));
        }
        Found::Alias(indexes) => match indexes.as_slice() {
            [one] if is_generation(name, one) => Some(one.clone()),
            _ => {
                return Err(Stop::Conflict(format!(
                    "the alias {read} names {}, not one index {name}-NNNNNN",
                    indexes.join(", ")
                )));
            }
        },
        Found::Nothing => None,
    };

    let Some(index) = current else {
        if let Some(other) = read_target {
            return Err(Stop::Conflict(format!(
                "the alias {read} already names {other}, but {name} names nothing"
            )));
        }
        let body = mapping::body(user, options, Some(&aliases(name)));
        let (status, json) = server.call(Method::PUT, &first, Some(&body))?;
        if !(200..300).contains(&status) {
            return Err(Stop::Failed(format!(
                "PUT /{first}: {status} {}",
                reason(&json)
            )));
        }
        println!("created index {first}: {}", describe(options, user));
        println!("alias {name} -> {first} (write index)");
        println!("alias {read} -> {first}");
        return Ok(true);
    };

    // Begun before: the index must be ours, made with the same mapping and settings.
    match our_meta(&mappings(server, &index)?) {
        Some(meta) if *meta == want => {}
        Some(_) => {
            return Err(Stop::Conflict(format!(
                "{index} was created with another mapping or other settings (see `index status {name}`)"
            )));
        }
        None => {
            return Err(Stop::Conflict(format!(
                "{index} exists and was not created by stream2search index create"
            )));
        }
    }
    let mut actions = Vec::new();
    if !write_alias_exists {
        actions.push(json!({"add": {"index": index, "alias": name, "is_write_index": true}}));
    }
    if read_target.is_none() {
        actions.push(json!({"add": {"index": index, "alias": read}}));
    }
    if actions.is_empty() {
        let read_index = read_target.unwrap_or_default();
        println!(
            "{name}: already set up ({name} -> {index} (write index), {read} -> {read_index}); nothing changed"
        );
        return Ok(true);
    }
    server.ok(
        Method::POST,
        "_aliases",
        Some(&json!({ "actions": actions })),
    )?;
    for action in &actions {
        let alias = action["add"]["alias"].as_str().unwrap_or_default();
        let write = if alias == name { " (write index)" } else { "" };
        println!("alias {alias} -> {index}{write}");
    }
    println!("{name}: finished a setup begun before");
    Ok(true)
}

fn describe(options: &Options, user: Option<&UserMapping>) -> String {
    let mapped = user.map_or(0, |u| u.properties().len());
    let mut parts = vec![
        format!("catch-all rules {}", mapping::RULES),
        format!("{mapped} mapped attributes"),
    ];
    if !options.serverless {
        parts.push(format!("gc_deletes {}", options.gc_deletes));
    }
    if let Some(s) = options.shards {
        parts.push(format!("{s} shards"));
    }
    if let Some(r) = options.replicas {
        parts.push(format!("{r} replicas"));
    }
    parts.join(", ")
}

fn status(server: &Server, name: &str) -> Result<bool, Stop> {
    check_name(name).map_err(Stop::Failed)?;
    let read = read_alias(name);
    let mut complete = true;
    let mut indexes = Vec::new();
    for (alias, role) in [
        (name.to_string(), "write alias"),
        (read.clone(), "read alias"),
    ] {
        match resolve(server, &alias)? {
            Found::Alias(targets) => {
                println!("{alias} ({role}) -> {}", targets.join(", "));
                complete &= targets.len() == 1 && is_generation(name, &targets[0]);
                indexes.extend(targets);
            }
            Found::Index => {
                println!("{alias}: an index, not an alias");
                complete = false;
            }
            Found::Nothing => {
                println!("{alias} ({role}): missing");
                complete = false;
            }
        }
    }
    indexes.sort();
    indexes.dedup();
    for index in &indexes {
        let count = server.ok(Method::GET, &format!("{index}/_count"), None)?;
        let docs = count["count"].as_u64().unwrap_or(0);
        let mappings = mappings(server, index)?;
        let made = match our_meta(&mappings) {
            Some(m) => format!("catch-all rules {}", m["rules"]),
            None => {
                complete = false;
                "not made by index create".into()
            }
        };
        let attributes = mappings["properties"].as_object().map_or(0, |p| p.len());
        let dynamic = match mappings["dynamic"].as_str() {
            Some("false") => "stopped (new attributes stay in _source only)",
            Some("strict") => "strict",
            _ => "on",
        };
        let mut line = format!(
            "{index}: {docs} documents; {made}; {attributes} mapped attributes; dynamic mapping {dynamic}"
        );
        if !server.serverless {
            let path = format!("{index}/_settings?include_defaults=true&flat_settings=true");
            let settings = server.ok(Method::GET, &path, None)?;
            let pick = |key: &str| {
                let index = &settings[index.as_str()];
                index["settings"][key]
                    .as_str()
                    .map(|v| v.to_string())
                    .or_else(|| {
                        index["defaults"][key]
                            .as_str()
                            .map(|v| format!("{v} (default)"))
                    })
                    .unwrap_or_else(|| "?".into())
            };
            line.push_str(&format!(
                "; index.gc_deletes {}; index.refresh_interval {}; index.mapping.ignore_malformed {}; index.mapping.total_fields.limit {}",
                pick("index.gc_deletes"),
                pick("index.refresh_interval"),
                pick("index.mapping.ignore_malformed"),
                pick("index.mapping.total_fields.limit"),
            ));
        }
        println!("{line}");
    }
    if !complete {
        println!("{name}: not set up as index create leaves it");
    }
    Ok(complete)
}
