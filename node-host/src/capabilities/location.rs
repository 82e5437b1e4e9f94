//! `location.get` over a [`LocationProvider`]. On Linux the default provider is GeoClue2 on the
//! system D-Bus ([`GeoClueProvider`]); other OSes answer `LOCATION_UNAVAILABLE` for now.

use std::time::{Duration, SystemTime};

use pincer_protocol::node_commands::LocationResult;
use serde::Deserialize;
use serde_json::Value;

use super::{or_cancelled, params, BoxFuture};
use crate::commands::{to_result, InvokeContext};
use crate::error::{codes, CommandError};

#[cfg(target_os = "linux")]
mod geoclue;
#[cfg(target_os = "linux")]
pub use geoclue::GeoClueProvider;

const GET: &str = "location.get";
/// Fixes at or below this accuracy radius are reported as `isPrecise: true`.
const PRECISE_METERS: f64 = 100.0;

/// `desiredAccuracy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredAccuracy {
    Coarse,
    #[default]
    Balanced,
    Precise,
}

/// What the caller asked for, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationRequest {
    /// Give up with `LOCATION_TIMEOUT` after this long.
    pub timeout: Duration,
    /// Cached fixes older than this are not good enough.
    pub max_age: Duration,
    pub accuracy: DesiredAccuracy,
}

/// One position fix.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_meters: f64,
    pub altitude_meters: Option<f64>,
    pub speed_mps: Option<f64>,
    pub heading_deg: Option<f64>,
    pub timestamp: SystemTime,
}

/// Where positions come from. Must honour `req.timeout` (answering `LOCATION_TIMEOUT`).
pub trait LocationProvider: Send + Sync {
    fn locate<'a>(&'a self, req: &'a LocationRequest) -> BoxFuture<'a, Fix>;
}

/// GeoClue2 over the system bus on Linux; elsewhere a provider that says "not implemented".
pub fn default_provider() -> Box<dyn LocationProvider> {
    #[cfg(target_os = "linux")]
    return Box::new(GeoClueProvider::system());
    #[cfg(not(target_os = "linux"))]
    return Box::new(Unsupported);
}

#[cfg(not(target_os = "linux"))]
struct Unsupported;

#[cfg(not(target_os = "linux"))]
impl LocationProvider for Unsupported {
    fn locate<'a>(&'a self, _req: &'a LocationRequest) -> BoxFuture<'a, Fix> {
        Box::pin(async { Err(CommandError::new(codes::LOCATION_UNAVAILABLE, "location is not implemented on this OS yet")) })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    timeout_ms: Option<f64>,
    max_age_ms: Option<f64>,
    desired_accuracy: Option<DesiredAccuracy>,
}

fn get_params(params: Value) -> Result<LocationRequest, CommandError> {
    let p: GetParams = params::parse(GET, params)?;
    let timeout = params::duration_ms(GET, "timeoutMs", p.timeout_ms, 10_000, 120_000)?;
    Ok(LocationRequest {
        timeout: Duration::from_millis(timeout.max(1)),
        max_age: Duration::from_millis(params::duration_ms(GET, "maxAgeMs", p.max_age_ms, 15_000, u64::MAX)?),
        accuracy: p.desired_accuracy.unwrap_or_default(),
    })
}

/// `{timeoutMs? (10000), maxAgeMs? (15000), desiredAccuracy?: coarse|balanced|precise}` →
/// `{lat, lon, accuracyMeters, altitudeMeters?, speedMps?, headingDeg?, timestamp, isPrecise, source}`.
pub async fn get(provider: &dyn LocationProvider, params: Value, ctx: &InvokeContext) -> Result<Value, CommandError> {
    let req = get_params(params)?;
    // Safety net in case a provider ignores its timeout.
    let limit = req.timeout + Duration::from_secs(2);
    let fix =
        or_cancelled(ctx, async { tokio::time::timeout(limit, provider.locate(&req)).await.map_err(|_| timeout_error(req.timeout))? })
            .await?;
    to_result(GET, &fix_result(&fix))
}

pub(crate) fn timeout_error(t: Duration) -> CommandError {
    CommandError::new(codes::LOCATION_TIMEOUT, format!("no location fix within {} ms", t.as_millis()))
}

fn fix_result(f: &Fix) -> LocationResult {
    LocationResult {
        lat: f.lat,
        lon: f.lon,
        accuracy_meters: f.accuracy_meters,
        timestamp: iso8601(f.timestamp),
        is_precise: f.accuracy_meters <= PRECISE_METERS,
        source: "unknown".into(),
        altitude_meters: f.altitude_meters.filter(|x| x.is_finite()),
        speed_mps: f.speed_mps.filter(|x| x.is_finite()),
        heading_deg: f.heading_deg.filter(|x| x.is_finite()),
        extra: Default::default(),
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub(crate) fn iso8601(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::UNIX_EPOCH;

    struct Fixed(Result<Fix, CommandError>);
    impl LocationProvider for Fixed {
        fn locate<'a>(&'a self, _req: &'a LocationRequest) -> BoxFuture<'a, Fix> {
            Box::pin(async { self.0.clone() })
        }
    }
    struct Never;
    impl LocationProvider for Never {
        fn locate<'a>(&'a self, _req: &'a LocationRequest) -> BoxFuture<'a, Fix> {
            Box::pin(std::future::pending())
        }
    }

    pub(super) fn sample_fix() -> Fix {
        Fix {
            lat: 48.8584,
            lon: 2.2945,
            accuracy_meters: 25.0,
            altitude_meters: Some(35.5),
            speed_mps: None,
            heading_deg: Some(f64::NAN),
            timestamp: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        }
    }

    #[test]
    fn params_defaults_and_validation() {
        let r = get_params(Value::Null).unwrap();
        assert_eq!(
            r,
            LocationRequest { timeout: Duration::from_secs(10), max_age: Duration::from_secs(15), accuracy: DesiredAccuracy::Balanced }
        );
        let r = get_params(json!({"timeoutMs": 500, "maxAgeMs": 0, "desiredAccuracy": "precise"})).unwrap();
        assert_eq!((r.timeout, r.max_age, r.accuracy), (Duration::from_millis(500), Duration::ZERO, DesiredAccuracy::Precise));
        assert_eq!(get_params(json!({"timeoutMs": 1e9})).unwrap().timeout, Duration::from_secs(120));
        for bad in [json!({"desiredAccuracy": "exact"}), json!({"timeoutMs": -1}), json!({"maxAgeMs": "old"}), json!("x")] {
            assert_eq!(get_params(bad.clone()).unwrap_err().code, "INVALID_REQUEST", "{bad}");
        }
    }

    #[test]
    fn iso8601_formats_utc() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00.000Z");
    }

    #[tokio::test]
    async fn get_formats_the_fix() {
        let v = get(&Fixed(Ok(sample_fix())), json!({}), &InvokeContext::detached()).await.unwrap();
        assert_eq!(
            v,
            json!({"lat":48.8584,"lon":2.2945,"accuracyMeters":25.0,"timestamp":"2023-11-14T22:13:20.123Z",
            "isPrecise":true,"source":"unknown","altitudeMeters":35.5})
        );
    }

    #[tokio::test]
    async fn get_passes_errors_and_honours_cancel_and_timeout() {
        let ctx = InvokeContext::detached();
        let denied = CommandError::new(codes::LOCATION_PERMISSION_REQUIRED, "no");
        assert_eq!(get(&Fixed(Err(denied.clone())), json!({}), &ctx).await.unwrap_err(), denied);
        let ctx2 = InvokeContext::detached();
        ctx2.cancel.cancel();
        assert_eq!(get(&Never, json!({}), &ctx2).await.unwrap_err().code, "CANCELLED");
        // `Never` ignores its timeout: the 2 s safety net answers LOCATION_TIMEOUT.
        assert_eq!(get(&Never, json!({"timeoutMs": 10}), &ctx).await.unwrap_err().code, "LOCATION_TIMEOUT");
    }
}
