//! Where the deployment is: its settings (from a deployed function, the local stack's settings
//! file, or this environment, with flags on top) parsed by the functions' own configuration code,
//! and the AWS clients built once from them.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use aws_config::{Region, SdkConfig};
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::aws::lambda::{caller_arn, FunctionRef, LambdaFunctions};
use shared::aws::s3::S3BodyStore;
use shared::aws::sqs::{Queues, SqsQueue};
use shared::aws::{config_loader, s3_client, CallLimits};
use shared::config::{Env, EnvSource, IngressConfig, OutboxSettings, ProcessEnv};

use crate::cli::TargetArgs;
use crate::hints::Refusal;

/// Where the settings came from, for the first line of `status` and for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Function(String),
    LocalStack(String),
    Environment,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Function(name) => write!(f, "function {name}"),
            Self::LocalStack(file) => write!(f, "local stack ({file})"),
            Self::Environment => f.write_str("environment variables"),
        }
    }
}

/// Settings in layers: flags, then the chosen source, then (for `Environment` only) the process.
struct Layered {
    overrides: HashMap<&'static str, String>,
    base: HashMap<String, String>,
    process: bool,
}

impl EnvSource for Layered {
    fn var(&self, name: &str) -> Option<String> {
        self.overrides
            .get(name)
            .cloned()
            .or_else(|| self.base.get(name).cloned())
            .or_else(|| self.process.then(|| ProcessEnv.var(name)).flatten())
    }
}

/// The resolved deployment, with its clients.
pub struct Target {
    pub origin: Origin,
    pub settings: OutboxSettings,
    pub outbox: DynamoDbOutbox,
    pub queue: SqsQueue,
    /// The main queue and every routed one (`ROUTES`): a row is re-sent where it was routed.
    pub queues: Queues,
    /// Bodies in S3 (the claim check): read by `show`, re-tagged when a row is resent or discarded.
    pub bodies: S3BodyStore,
    dlq_url: Option<String>,
    ingress_url: Option<String>,
    function: Option<FunctionRef>,
    layered: Layered,
    pub sdk: SdkConfig,
}

impl Target {
    /// One line saying where every call goes, for stderr before anything is done.
    pub fn pointing_at(&self) -> String {
        format!(
            "outboxctl: {} · table {} · queue {} · source {}",
            self.origin, self.settings.table, self.settings.queue_url, self.settings.source
        )
    }

    pub async fn resolve(args: &TargetArgs) -> anyhow::Result<Self> {
        let mut overrides = HashMap::new();
        let flags = [
            ("OUTBOX_TABLE", args.table.clone()),
            ("QUEUE_URL", args.queue_url.clone()),
            ("DLQ_URL", args.dlq_url.clone()),
            ("SOURCE_NAME", args.source.clone()),
            ("PENDING_SHARDS", args.shards.map(|n| n.to_string())),
        ];
        for (name, value) in flags {
            if let Some(value) = value {
                overrides.insert(name, value);
            }
        }
        let local_file = args.local_env.display().to_string();
        let (origin, base, process, sdk, function) = if let Some(name) = &args.function {
            let sdk = aws_sdk_config(args).await;
            let function = FunctionRef::parse(name);
            let environment = LambdaFunctions::new(aws_sdk_lambda::Client::new(&sdk))
                .environment(&function)
                .await?;
            (
                Origin::Function(function.to_string()),
                environment.0,
                false,
                sdk,
                Some(function),
            )
        } else if args.local || args.local_env.exists() {
            let base = read_env_file(&args.local_env).with_context(|| {
                format!(
                    "cannot read the local stack's settings {local_file}: start it with `make up`"
                )
            })?;
            let sdk = local_sdk_config(&base).await;
            (Origin::LocalStack(local_file), base, false, sdk, None)
        } else {
            let sdk = aws_sdk_config(args).await;
            (Origin::Environment, HashMap::new(), true, sdk, None)
        };
        let layered = Layered {
            overrides,
            base,
            process,
        };
        ensure_one_deployment(args, &layered, &origin)?;
        let settings = OutboxSettings::from_env(&Env::new(&layered)).with_context(|| {
            format!("the settings from the {origin} are incomplete: give --function NAME, --local, or the flag / variable named")
        })?;
        let outbox = DynamoDbOutbox::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &settings.table,
            &settings.source,
            settings.pending_shards,
        );
        let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), &settings.queue_url);
        let queues = Queues::new(queue.clone(), &settings.routes);
        let kms_key_id = settings
            .large_bodies
            .as_ref()
            .and_then(|large| large.kms_key_id.clone());
        let bodies = S3BodyStore::new(s3_client(&sdk), kms_key_id);
        Ok(Self {
            bodies,
            // Another queue than the deployment's: its DLQ is its own RedrivePolicy's, not DLQ_URL.
            dlq_url: if args.queue_url.is_some() && args.dlq_url.is_none() {
                None
            } else {
                layered.var("DLQ_URL").filter(|v| !v.trim().is_empty())
            },
            ingress_url: layered.var("INGRESS_URL").filter(|v| !v.trim().is_empty()),
            origin,
            settings,
            outbox,
            queue,
            queues,
            function,
            layered,
            sdk,
        })
    }

    /// A route's queue (by its `name` in ROUTES) and that queue's DLQ (from its RedrivePolicy).
    pub async fn routed_queue_and_dlq(&self, route: &str) -> anyhow::Result<(SqsQueue, SqsQueue)> {
        let Some(url) = self
            .settings
            .routes
            .iter()
            .find(|r| r.name == route)
            .map(|r| r.queue_url.clone())
        else {
            let names: Vec<&str> = self
                .settings
                .routes
                .iter()
                .map(|r| r.name.as_str())
                .collect();
            anyhow::bail!(
                "no route named `{route}` in ROUTES (routes: {}): `outboxctl status` names the routes whose DLQ holds messages",
                if names.is_empty() { "none".to_owned() } else { names.join(", ") }
            );
        };
        let queue = self.queue.sibling(url);
        let dlq = queue.dead_letter_queue().await?.with_context(|| {
            format!(
                "the queue {} of route `{route}` has no RedrivePolicy, so it has no DLQ",
                queue.url()
            )
        })?;
        Ok((queue, dlq))
    }

    /// The DLQ: DLQ_URL / --dlq-url when given, else the main queue's RedrivePolicy target.
    pub async fn dlq(&self) -> anyhow::Result<SqsQueue> {
        if let Some(url) = &self.dlq_url {
            return Ok(SqsQueue::new(aws_sdk_sqs::Client::new(&self.sdk), url));
        }
        self.queue.dead_letter_queue().await?.with_context(|| {
            format!(
                "the queue {} has no RedrivePolicy, so it has no DLQ: give --dlq-url",
                self.settings.queue_url
            )
        })
    }

    /// The name of the SSM parameter holding the signing secret, when the settings give one.
    pub fn secret_parameter(&self) -> Option<String> {
        self.layered
            .var("SECRET_PARAMETER")
            .filter(|name| !name.trim().is_empty())
    }

    /// The ingress's own configuration (scheme, secret parameter), for `send-test`.
    pub fn ingress_config(&self) -> anyhow::Result<IngressConfig> {
        IngressConfig::from_env(&self.layered).with_context(|| {
            format!(
                "the ingress settings from the {} are incomplete",
                self.origin
            )
        })
    }

    /// Where to POST a test webhook: --url, INGRESS_URL, or the function's URL.
    pub async fn ingress_url(&self, flag: Option<&str>) -> anyhow::Result<String> {
        if let Some(url) = flag.map(str::to_owned).or_else(|| self.ingress_url.clone()) {
            return Ok(url);
        }
        let function = self.function.as_ref().context(
            "no ingress URL: give --url, set INGRESS_URL, or point at the function with --function",
        )?;
        LambdaFunctions::new(aws_sdk_lambda::Client::new(&self.sdk))
            .url(function)
            .await?
            .with_context(|| format!("the function {function} has no Function URL: give --url"))
    }

    /// Who is acting, for the audit attributes: the AWS caller's ARN and the local user.
    pub async fn operator(&self) -> String {
        let user = ProcessEnv
            .var("USER")
            .or_else(|| ProcessEnv.var("LOGNAME"))
            .unwrap_or_else(|| "unknown".to_owned());
        match caller_arn(&aws_sdk_sts::Client::new(&self.sdk)).await {
            Ok(arn) => format!("{arn} (user {user})"),
            Err(err) => {
                tracing::warn!(error = %err, "cannot tell the AWS identity; recording the local user only");
                format!("user {user}")
            }
        }
    }
}

/// Refuses `--source` naming another source than the deployment's own unless `--queue-url` says
/// where that source's rows go: the deployment's queue (and ROUTES) are its own source's, so
/// reading one source while sending to another's queue would deliver events to the wrong workers
/// and mark them sent.
fn ensure_one_deployment(
    args: &TargetArgs,
    layered: &Layered,
    origin: &Origin,
) -> anyhow::Result<()> {
    let Some(chosen) = &args.source else {
        return Ok(());
    };
    let own = Layered {
        overrides: HashMap::new(),
        base: layered.base.clone(),
        process: layered.process,
    }
    .var("SOURCE_NAME")
    .filter(|own| !own.trim().is_empty());
    match own {
        Some(own) if &own != chosen && args.queue_url.is_none() => Err(Refusal::new(
            format!(
                "--source {chosen} is not the source of the {origin} ({own}): its queue and ROUTES are {own}'s, so {chosen}'s rows would be sent to {own}'s workers"
            ),
            format!(
                "point at {chosen}'s own deployment (`--function <{chosen}'s ingress function>`), or give its queue too: --source {chosen} --queue-url URL"
            ),
        )
        .into()),
        _ => Ok(()),
    }
}

/// SDK settings for AWS: the SDK's usual sources, with --region and --profile on top.
async fn aws_sdk_config(args: &TargetArgs) -> SdkConfig {
    let mut loader = config_loader(CallLimits::background());
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &args.region {
        loader = loader.region(Region::new(region.clone()));
    }
    loader.load().await
}

/// Where this shell's AWS credentials for a real account come from, if any: a local-stack run
/// beside them may be mistaken for one against that account.
pub fn real_aws_credentials() -> Option<String> {
    if let Some(profile) = ProcessEnv.var("AWS_PROFILE").filter(|p| !p.is_empty()) {
        return Some(format!("AWS_PROFILE={profile}"));
    }
    if let Some(key) = ProcessEnv
        .var("AWS_ACCESS_KEY_ID")
        .filter(|key| key.starts_with("AKIA") || key.starts_with("ASIA"))
    {
        return Some(format!("AWS_ACCESS_KEY_ID={}...", &key[..4]));
    }
    let home = ProcessEnv.var("HOME")?;
    let files = [
        ProcessEnv
            .var("AWS_SHARED_CREDENTIALS_FILE")
            .unwrap_or(format!("{home}/.aws/credentials")),
        ProcessEnv
            .var("AWS_CONFIG_FILE")
            .unwrap_or(format!("{home}/.aws/config")),
    ];
    files
        .into_iter()
        .find(|file| Path::new(file).exists())
        .map(|file| format!("{file} exists"))
}

/// SDK settings for the local stack: its endpoint, region and dummy credentials from the file.
async fn local_sdk_config(file: &HashMap<String, String>) -> SdkConfig {
    let mut loader = config_loader(CallLimits::background());
    if let Some(endpoint) = file.get("AWS_ENDPOINT_URL") {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(region) = file.get("AWS_REGION") {
        loader = loader.region(Region::new(region.clone()));
    }
    if let (Some(key), Some(secret)) = (
        file.get("AWS_ACCESS_KEY_ID"),
        file.get("AWS_SECRET_ACCESS_KEY"),
    ) {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            key,
            secret,
            None,
            None,
            "local-stack",
        ));
    }
    loader.load().await
}

/// `KEY=value` lines (the format `make up` writes); blank lines and `#` comments skipped.
fn read_env_file(path: &Path) -> std::io::Result<HashMap<String, String>> {
    Ok(parse_env_lines(&std::fs::read_to_string(path)?))
}

fn parse_env_lines(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            (name.trim().to_owned(), unquoted.to_owned())
        })
        .filter(|(_, value)| !value.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_give_their_non_empty_values() {
        let parsed = parse_env_lines(
            "# local\nOUTBOX_TABLE=webhook-outbox\nSIGNATURE_HEADER=\nQUEUE_URL=\"http://q/1\"\n\n",
        );
        assert_eq!(
            parsed.get("OUTBOX_TABLE").map(String::as_str),
            Some("webhook-outbox")
        );
        assert_eq!(
            parsed.get("QUEUE_URL").map(String::as_str),
            Some("http://q/1")
        );
        assert!(!parsed.contains_key("SIGNATURE_HEADER"));
    }

    #[test]
    fn flags_win_over_the_source_and_the_process_is_read_only_when_asked() {
        let layered = Layered {
            overrides: HashMap::from([("OUTBOX_TABLE", "from-flag".to_owned())]),
            base: HashMap::from([
                ("OUTBOX_TABLE".to_owned(), "from-function".to_owned()),
                ("SOURCE_NAME".to_owned(), "market".to_owned()),
            ]),
            process: false,
        };
        assert_eq!(layered.var("OUTBOX_TABLE").as_deref(), Some("from-flag"));
        assert_eq!(layered.var("SOURCE_NAME").as_deref(), Some("market"));
        assert_eq!(layered.var("PATH"), None);
    }
}
