//! The webhook signing secrets, read through a [`SecretSource`] (the SSM parameter in
//! [`crate::aws::ssm`]) at cold start
//! and kept by [`SecretCache`], which re-reads them when they are old or a signature fails, so a
//! rotated secret is picked up without a redeploy. The cold start's read backs off with jitter and
//! tries again while SSM throttles it (its standard throughput is shared by every function of the
//! account and region), within the time Lambda gives an init.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::call_error::AwsCallError;
use crate::signature::{KeyError, SigningKeys};

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read SSM parameter {parameter}")]
    Read {
        parameter: String,
        /// Throttled, timed out or a server error: the same read may succeed a moment later.
        transient: bool,
        #[source]
        call: AwsCallError,
    },
    #[error("SSM parameter {parameter} has no value")]
    NoValue { parameter: String },
    #[error("SSM parameter {parameter} (SECRET_PARAMETER): {source}")]
    Unusable {
        parameter: String,
        #[source]
        source: KeyError,
    },
}

impl SecretsError {
    /// Whether reading again later may succeed (a throttle, a timeout, a server error), as opposed
    /// to a missing parameter, a denied permission or an unusable value.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Read {
                transient: true,
                ..
            }
        )
    }
}

/// How a cold start retries a transient secret read: full-jitter exponential backoff (a wait
/// drawn uniformly below `first_backoff * 2^n`, at most `max_backoff`), so instances started
/// together spread their retries instead of throttling each other again, until `within` has
/// passed since the first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColdStartRetry {
    pub within: Duration,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl ColdStartRetry {
    /// Lambda gives a function's init 10 s: retrying for 8 leaves the rest of the cold start (the
    /// connections' warm-up runs beside the read) its time.
    pub const WITHIN_LAMBDA_INIT: Self = Self {
        within: Duration::from_secs(8),
        first_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
    };

    /// The wait before retry number `retry` (0 for the first), for `unit` drawn from [0, 1).
    pub fn backoff(&self, retry: u32, unit: f64) -> Duration {
        let ceiling = self
            .first_backoff
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// Reads `source` until it succeeds, fails for good, or the next wait would end past
    /// `within`; the keys come back with the number of retries it took.
    async fn read<Sleep, Slept>(
        &self,
        source: &dyn SecretSource,
        now: impl Fn() -> Instant,
        mut unit: impl FnMut() -> f64,
        sleep: Sleep,
    ) -> Result<(SigningKeys, u32), SecretsError>
    where
        Sleep: Fn(Duration) -> Slept,
        Slept: Future<Output = ()>,
    {
        let started = now();
        let mut retries = 0;
        loop {
            match source.load().await {
                Ok(keys) => return Ok((keys, retries)),
                Err(err) if err.is_transient() => {
                    let wait = self.backoff(retries, unit());
                    if now().saturating_duration_since(started) + wait > self.within {
                        return Err(err);
                    }
                    warn!(retry = retries + 1, wait_ms = wait.as_millis() as u64, error = %err, "reading the signing secrets at cold start failed; trying again");
                    sleep(wait).await;
                    retries += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// A number drawn uniformly from [0, 1): the standard library's per-process random hash keys,
/// so every instance draws different waits without a random-number crate.
fn jitter_unit() -> f64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos()),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Where the signing keys come from: the SSM parameter, or fixed keys in tests.
pub trait SecretSource: Send + Sync {
    fn load(&self) -> Pin<Box<dyn Future<Output = Result<SigningKeys, SecretsError>> + Send + '_>>;
}

/// The shortest time between two reads of the parameter by one instance, whatever triggers them,
/// so forged traffic (every forgery is a failed verification) cannot make the function hammer SSM.
pub const MIN_REFRESH_GAP: Duration = Duration::from_secs(10);

/// The shortest time between two reads of one instance triggered by failed verifications (a
/// secret rotated without overlap, or forgeries): each such read waits this plus a random part
/// of it again (30 to 60 s), so the instances of a flood of forgeries spread their reads instead
/// of hitting SSM together, and each reads at most twice a minute.
pub const EARLY_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// When the cached keys may be read again.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    /// `SECRET_REFRESH_SECS`: keys older than this are re-read.
    pub max_age: Duration,
    /// [`MIN_REFRESH_GAP`] in production.
    pub min_gap: Duration,
    /// [`EARLY_REFRESH_INTERVAL`] in production: after a read triggered by a failed
    /// verification, the next such read waits this times (1 + a random draw from [0, 1)).
    pub early_interval: Duration,
}

/// Why a refresh is considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshTrigger {
    /// A request is about to be verified: refresh if the keys are too old.
    Age,
    /// A signature matched no key: the secret may have just been rotated.
    FailedVerification,
}

impl RefreshPolicy {
    /// Whether to read the parameter now, given when the keys were loaded and when the last read
    /// (successful or not) was attempted.
    pub fn due(
        &self,
        trigger: RefreshTrigger,
        now: Instant,
        loaded_at: Instant,
        last_attempt: Instant,
    ) -> bool {
        let gap_passed = now.saturating_duration_since(last_attempt) >= self.min_gap;
        match trigger {
            RefreshTrigger::Age => {
                gap_passed && now.saturating_duration_since(loaded_at) >= self.max_age
            }
            RefreshTrigger::FailedVerification => gap_passed,
        }
    }
}

struct Cached {
    keys: Arc<SigningKeys>,
    loaded_at: Instant,
    last_attempt: Instant,
    /// The earliest time a failed verification may trigger a read (after the last such read, a
    /// jittered [`RefreshPolicy::early_interval`]).
    early_not_before: Instant,
}

/// The signing keys of one instance: loaded at cold start, re-read when older than the policy's
/// `max_age` and early after a failed verification, never more often than its `min_gap`. A read
/// that fails or times out keeps the last good keys.
pub struct SecretCache {
    source: Box<dyn SecretSource>,
    policy: RefreshPolicy,
    cached: std::sync::Mutex<Cached>,
    /// Held while a read is in flight: concurrent requests use the current keys rather than wait.
    reading: tokio::sync::Mutex<()>,
    /// The monotonic clock the policy is applied with (a test's own in unit tests).
    now: fn() -> Instant,
    /// Draws from [0, 1) for the early reads' jitter (fixed in unit tests).
    jitter: fn() -> f64,
}

impl SecretCache {
    /// Reads the keys at cold start, retrying a transient failure as `retry` allows; failing here
    /// stops the cold start. Returns the cache and how many retries the read took.
    pub async fn load(
        source: Box<dyn SecretSource>,
        policy: RefreshPolicy,
        retry: ColdStartRetry,
    ) -> Result<(Self, u32), SecretsError> {
        let (keys, retries) = retry
            .read(
                source.as_ref(),
                Instant::now,
                jitter_unit,
                tokio::time::sleep,
            )
            .await?;
        Ok((
            Self::loaded(source, policy, keys, Instant::now, jitter_unit),
            retries,
        ))
    }

    #[cfg(test)]
    async fn load_with_clock(
        source: Box<dyn SecretSource>,
        policy: RefreshPolicy,
        now: fn() -> Instant,
        jitter: fn() -> f64,
    ) -> Result<Self, SecretsError> {
        let keys = source.load().await?;
        Ok(Self::loaded(source, policy, keys, now, jitter))
    }

    fn loaded(
        source: Box<dyn SecretSource>,
        policy: RefreshPolicy,
        keys: SigningKeys,
        now: fn() -> Instant,
        jitter: fn() -> f64,
    ) -> Self {
        let loaded_at = now();
        Self {
            source,
            policy,
            cached: std::sync::Mutex::new(Cached {
                keys: Arc::new(keys),
                loaded_at,
                last_attempt: loaded_at,
                early_not_before: loaded_at,
            }),
            reading: tokio::sync::Mutex::new(()),
            now,
            jitter,
        }
    }

    /// Keys that never change (tests, benchmarks): nothing is ever read.
    pub fn fixed(keys: SigningKeys) -> Self {
        let now = Instant::now();
        Self {
            source: Box::new(FixedKeys(keys.clone())),
            policy: RefreshPolicy {
                max_age: Duration::MAX,
                min_gap: Duration::MAX,
                early_interval: Duration::MAX,
            },
            cached: std::sync::Mutex::new(Cached {
                keys: Arc::new(keys),
                loaded_at: now,
                last_attempt: now,
                early_not_before: now,
            }),
            reading: tokio::sync::Mutex::new(()),
            now: Instant::now,
            jitter: jitter_unit,
        }
    }

    /// The keys to verify with, re-read first when they are older than the policy allows. The read
    /// gets at most `limit`; past it the current keys are used.
    pub async fn current(&self, limit: Duration) -> Arc<SigningKeys> {
        self.refresh_if(RefreshTrigger::Age, limit).await;
        self.keys()
    }

    /// After a signature matched no key: re-reads the parameter if the gap allows it and returns
    /// the fresh keys to try again with, or `None` when nothing was read.
    pub async fn after_failed_verification(&self, limit: Duration) -> Option<Arc<SigningKeys>> {
        self.refresh_if(RefreshTrigger::FailedVerification, limit)
            .await
            .then(|| self.keys())
    }

    fn keys(&self) -> Arc<SigningKeys> {
        Arc::clone(&self.lock().keys)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        // A panic while holding this lock cannot leave `Cached` half-written: take it as it is.
        self.cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the parameter when `trigger` makes it due; true when fresh keys were stored.
    async fn refresh_if(&self, trigger: RefreshTrigger, limit: Duration) -> bool {
        let due = {
            let cached = self.lock();
            let now = (self.now)();
            self.policy
                .due(trigger, now, cached.loaded_at, cached.last_attempt)
                && (trigger != RefreshTrigger::FailedVerification || now >= cached.early_not_before)
        };
        if !due {
            return false;
        }
        let Ok(_reading) = self.reading.try_lock() else {
            return false;
        };
        {
            let mut cached = self.lock();
            let now = (self.now)();
            cached.last_attempt = now;
            if trigger == RefreshTrigger::FailedVerification {
                let wait = self
                    .policy
                    .early_interval
                    .mul_f64(1.0 + (self.jitter)().clamp(0.0, 1.0));
                cached.early_not_before = now
                    .checked_add(wait)
                    .unwrap_or(now + Duration::from_secs(86_400 * 365));
            }
        }
        match tokio::time::timeout(limit, self.source.load()).await {
            Ok(Ok(keys)) => {
                info!(?trigger, secrets = keys.len(), "signing secrets re-read");
                let mut cached = self.lock();
                cached.keys = Arc::new(keys);
                cached.loaded_at = (self.now)();
                true
            }
            Ok(Err(err)) => {
                warn!(?trigger, error = %err, "re-reading the signing secrets failed; the last good ones stay in use");
                false
            }
            Err(_) => {
                warn!(
                    ?trigger,
                    "re-reading the signing secrets timed out; the last good ones stay in use"
                );
                false
            }
        }
    }
}

/// Fixed keys: every read returns them.
struct FixedKeys(SigningKeys);

impl SecretSource for FixedKeys {
    fn load(&self) -> Pin<Box<dyn Future<Output = Result<SigningKeys, SecretsError>> + Send + '_>> {
        let keys = self.0.clone();
        Box::pin(async move { Ok(keys) })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::OnceLock;

    use super::*;
    use crate::signature::SignatureScheme;

    /// The clock of the cache test: it moves only when the test advances it.
    static ADVANCED_MS: AtomicU64 = AtomicU64::new(0);

    fn test_clock() -> Instant {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        *ORIGIN.get_or_init(Instant::now)
            + Duration::from_millis(ADVANCED_MS.load(Ordering::SeqCst))
    }

    fn advance(by: Duration) {
        let millis = u64::try_from(by.as_millis()).unwrap();
        ADVANCED_MS.fetch_add(millis, Ordering::SeqCst);
    }

    #[test]
    fn age_refresh_needs_both_the_age_and_the_gap_failure_refresh_only_the_gap() {
        let policy = RefreshPolicy {
            max_age: Duration::from_secs(300),
            min_gap: MIN_REFRESH_GAP,
            early_interval: EARLY_REFRESH_INTERVAL,
        };
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let age = RefreshTrigger::Age;
        let failed = RefreshTrigger::FailedVerification;
        assert!(!policy.due(age, at(299), start, start));
        assert!(policy.due(age, at(300), start, start));
        // A read failed 5 s ago: wait out the gap even though the keys are old.
        assert!(!policy.due(age, at(400), start, at(395)));
        assert!(policy.due(age, at(405), start, at(395)));
        assert!(!policy.due(failed, at(9), start, start));
        assert!(policy.due(failed, at(10), start, start));
    }

    /// Serves the keys of the current `secret` and counts reads; `None` makes the read fail.
    struct Scripted {
        secret: std::sync::Mutex<Option<&'static str>>,
        reads: AtomicUsize,
    }

    impl SecretSource for Arc<Scripted> {
        fn load(
            &self,
        ) -> Pin<Box<dyn Future<Output = Result<SigningKeys, SecretsError>> + Send + '_>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let secret = *self.secret.lock().unwrap();
            Box::pin(async move {
                match secret {
                    Some(secret) => Ok(SignatureScheme::GitHub.parse_keys(secret).unwrap()),
                    None => Err(SecretsError::NoValue {
                        parameter: "/test".into(),
                    }),
                }
            })
        }
    }

    #[tokio::test]
    async fn failed_verifications_refresh_at_most_once_per_gap_and_failures_keep_the_last_keys() {
        let source = Arc::new(Scripted {
            secret: std::sync::Mutex::new(Some("old")),
            reads: AtomicUsize::new(0),
        });
        let policy = RefreshPolicy {
            max_age: Duration::from_secs(300),
            min_gap: Duration::from_millis(200),
            early_interval: Duration::from_millis(100),
        };
        let cache =
            SecretCache::load_with_clock(Box::new(Arc::clone(&source)), policy, test_clock, || 0.5)
                .await
                .unwrap();
        let limit = Duration::from_secs(1);
        assert_eq!(cache.current(limit).await.len(), 1);
        // Within the gap of the cold-start read: no read, however many forgeries arrive (and
        // however slowly the machine runs: the test's clock moves only when it says so).
        assert!(cache.after_failed_verification(limit).await.is_none());
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);

        *source.secret.lock().unwrap() = Some("old new");
        advance(Duration::from_millis(250));
        let fresh = cache.after_failed_verification(limit).await.unwrap();
        assert_eq!(fresh.len(), 2);
        assert!(cache.after_failed_verification(limit).await.is_none());
        assert_eq!(source.reads.load(Ordering::SeqCst), 2);

        // SSM fails: the two keys stay in use.
        *source.secret.lock().unwrap() = None;
        advance(Duration::from_millis(250));
        assert!(cache.after_failed_verification(limit).await.is_none());
        assert_eq!(cache.current(limit).await.len(), 2);
        assert_eq!(source.reads.load(Ordering::SeqCst), 3);
    }

    /// The clock of the jitter test, apart from [`test_clock`] (tests run in parallel).
    static JITTER_ADVANCED_MS: AtomicU64 = AtomicU64::new(0);

    fn jitter_test_clock() -> Instant {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        *ORIGIN.get_or_init(Instant::now)
            + Duration::from_millis(JITTER_ADVANCED_MS.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn failed_verifications_read_at_most_once_per_jittered_interval() {
        let source = Arc::new(Scripted {
            secret: std::sync::Mutex::new(Some("old")),
            reads: AtomicUsize::new(0),
        });
        // Production's proportions: a 10 s gap, early reads 30 s apart plus a jitter drawn at
        // 0.5 here (so 45 s).
        let policy = RefreshPolicy {
            max_age: Duration::from_secs(3600),
            min_gap: MIN_REFRESH_GAP,
            early_interval: EARLY_REFRESH_INTERVAL,
        };
        let cache = SecretCache::load_with_clock(
            Box::new(Arc::clone(&source)),
            policy,
            jitter_test_clock,
            || 0.5,
        )
        .await
        .unwrap();
        let limit = Duration::from_secs(1);
        let advance = |secs: u64| {
            JITTER_ADVANCED_MS.fetch_add(secs * 1000, Ordering::SeqCst);
        };
        advance(10);
        assert!(cache.after_failed_verification(limit).await.is_some());
        assert_eq!(source.reads.load(Ordering::SeqCst), 2);
        // A forgery every second for 44 s: no read, the gap long passed.
        for _ in 0..44 {
            advance(1);
            assert!(cache.after_failed_verification(limit).await.is_none());
        }
        assert_eq!(source.reads.load(Ordering::SeqCst), 2);
        advance(1);
        assert!(cache.after_failed_verification(limit).await.is_some());
        assert_eq!(source.reads.load(Ordering::SeqCst), 3);
        // An age-triggered read is not held back by the early reads' interval.
        advance(3600);
        assert_eq!(cache.current(limit).await.len(), 1);
        assert_eq!(source.reads.load(Ordering::SeqCst), 4);
    }

    /// A transient read failure, as a throttled GetParameter gives.
    fn throttled() -> SecretsError {
        SecretsError::Read {
            parameter: "/test".into(),
            transient: true,
            call: AwsCallError {
                service: "SSM",
                operation: "GetParameter",
                code: "ThrottlingException".into(),
                source: Box::new(std::io::Error::other("Rate exceeded")),
            },
        }
    }

    /// Fails with `throttled` for the first `failures` reads, then serves a key; counts reads.
    struct ThrottledFor {
        failures: usize,
        permanent: bool,
        reads: AtomicUsize,
    }

    impl SecretSource for Arc<ThrottledFor> {
        fn load(
            &self,
        ) -> Pin<Box<dyn Future<Output = Result<SigningKeys, SecretsError>> + Send + '_>> {
            let read = self.reads.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if read >= self.failures {
                    Ok(SignatureScheme::GitHub.parse_keys("secret").unwrap())
                } else if self.permanent {
                    Err(SecretsError::NoValue {
                        parameter: "/test".into(),
                    })
                } else {
                    Err(throttled())
                }
            })
        }
    }

    /// Runs the cold-start read on a clock that moves only by the waits it sleeps, with the
    /// jitter fixed at `unit`; returns the outcome, the reads made and the waits slept.
    async fn read_on_test_clock(
        failures: usize,
        permanent: bool,
        unit: f64,
    ) -> (Result<u32, SecretsError>, usize, Vec<Duration>) {
        let source = Arc::new(ThrottledFor {
            failures,
            permanent,
            reads: AtomicUsize::new(0),
        });
        let origin = Instant::now();
        let elapsed = Arc::new(std::sync::Mutex::new(Duration::ZERO));
        let waits = Arc::new(std::sync::Mutex::new(Vec::new()));
        let clock = Arc::clone(&elapsed);
        let slept = (Arc::clone(&elapsed), Arc::clone(&waits));
        let outcome = ColdStartRetry::WITHIN_LAMBDA_INIT
            .read(
                &Arc::clone(&source),
                move || origin + *clock.lock().unwrap(),
                || unit,
                move |wait| {
                    *slept.0.lock().unwrap() += wait;
                    slept.1.lock().unwrap().push(wait);
                    std::future::ready(())
                },
            )
            .await
            .map(|(_, retries)| retries);
        let waits = waits.lock().unwrap().clone();
        (outcome, source.reads.load(Ordering::SeqCst), waits)
    }

    #[test]
    fn cold_start_backoff_is_full_jitter_below_a_doubling_ceiling() {
        let retry = ColdStartRetry::WITHIN_LAMBDA_INIT;
        assert_eq!(retry.backoff(0, 1.0), Duration::from_millis(100));
        assert_eq!(retry.backoff(3, 1.0), Duration::from_millis(800));
        assert_eq!(retry.backoff(4, 1.0), Duration::from_millis(1600));
        assert_eq!(retry.backoff(5, 1.0), Duration::from_secs(2));
        assert_eq!(retry.backoff(60, 1.0), Duration::from_secs(2));
        assert_eq!(retry.backoff(3, 0.5), Duration::from_millis(400));
        assert_eq!(retry.backoff(3, 0.0), Duration::ZERO);
        let unit = jitter_unit();
        assert!((0.0..1.0).contains(&unit), "{unit}");
    }

    #[tokio::test]
    async fn a_throttled_cold_start_read_backs_off_and_gets_the_keys() {
        let (outcome, reads, waits) = read_on_test_clock(4, false, 1.0).await;
        assert_eq!(outcome.unwrap(), 4);
        assert_eq!(reads, 5);
        let millis: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [100, 200, 400, 800]);
    }

    #[tokio::test]
    async fn a_cold_start_read_gives_up_before_the_init_time_runs_out() {
        let (outcome, reads, waits) = read_on_test_clock(usize::MAX, false, 1.0).await;
        assert!(outcome.unwrap_err().is_transient());
        // Reads at 0, 0.1, 0.3, 0.7, 1.5, 3.1, 5.1 and 7.1 s; another 2 s wait would pass 8 s.
        assert_eq!(reads, 8);
        assert!(waits.iter().sum::<Duration>() <= ColdStartRetry::WITHIN_LAMBDA_INIT.within);
    }

    #[tokio::test]
    async fn a_permanent_secret_failure_is_not_retried() {
        let (outcome, reads, waits) = read_on_test_clock(1, true, 1.0).await;
        assert!(!outcome.unwrap_err().is_transient());
        assert_eq!(reads, 1);
        assert!(waits.is_empty());
    }
}
