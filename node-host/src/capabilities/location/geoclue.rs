//! GeoClue2 over D-Bus (`org.freedesktop.GeoClue2`): CreateClient, set DesktopId and
//! RequestedAccuracyLevel, subscribe to LocationUpdated, Start, read the Location object, Stop.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;
use zbus::proxy::CacheProperties;
use zbus::zvariant::OwnedObjectPath;
use zbus::{Connection, Proxy};

use super::{timeout_error, BoxFuture, DesiredAccuracy, Fix, LocationProvider, LocationRequest};
use crate::error::{codes, CommandError};

const SERVICE: &str = "org.freedesktop.GeoClue2";
const MANAGER_PATH: &str = "/org/freedesktop/GeoClue2/Manager";
const DESKTOP_ID: &str = "pincer";
const INSTALL_HINT: &str = "install and enable GeoClue (Debian/Ubuntu: apt install geoclue-2.0; it runs on the system D-Bus)";

/// GeoClue2 on the system bus, or on any bus address (tests run a fake GeoClue on a private bus).
#[derive(Debug, Clone, Default)]
pub struct GeoClueProvider {
    address: Option<String>,
}

impl GeoClueProvider {
    pub fn system() -> Self {
        GeoClueProvider { address: None }
    }

    /// A D-Bus address such as `unix:path=/tmp/bus`.
    pub fn with_address(address: impl Into<String>) -> Self {
        GeoClueProvider { address: Some(address.into()) }
    }

    async fn connect(&self) -> Result<Connection, CommandError> {
        let conn = match &self.address {
            None => Connection::system().await,
            Some(a) => match zbus::connection::Builder::address(a.as_str()) {
                Ok(b) => b.build().await,
                Err(e) => Err(e),
            },
        };
        conn.map_err(|e| CommandError::new(codes::LOCATION_UNAVAILABLE, format!("cannot reach the system D-Bus ({e}); {INSTALL_HINT}")))
    }

    async fn locate_inner(&self, req: &LocationRequest) -> Result<Fix, CommandError> {
        let conn = self.connect().await?;
        let manager = Proxy::new(&conn, SERVICE, MANAGER_PATH, "org.freedesktop.GeoClue2.Manager").await.map_err(dbus_error)?;
        let client_path: OwnedObjectPath = manager.call("CreateClient", &()).await.map_err(dbus_error)?;
        let client = uncached(&conn, client_path.clone(), "org.freedesktop.GeoClue2.Client").await?;
        let result = run_client(&conn, &client, req).await;
        // Best effort: stop updates and free the client whatever happened.
        let _ = client.call_method("Stop", &()).await;
        let _ = manager.call_method("DeleteClient", &(client_path,)).await;
        result
    }
}

impl LocationProvider for GeoClueProvider {
    fn locate<'a>(&'a self, req: &'a LocationRequest) -> BoxFuture<'a, Fix> {
        Box::pin(async move { tokio::time::timeout(req.timeout, self.locate_inner(req)).await.map_err(|_| timeout_error(req.timeout))? })
    }
}

/// GeoClue's `RequestedAccuracyLevel` values (GClueAccuracyLevel).
fn accuracy_level(a: DesiredAccuracy) -> u32 {
    match a {
        DesiredAccuracy::Coarse => 4,   // CITY
        DesiredAccuracy::Balanced => 6, // STREET
        DesiredAccuracy::Precise => 8,  // EXACT
    }
}

async fn uncached<'a>(conn: &Connection, path: OwnedObjectPath, iface: &'static str) -> Result<Proxy<'a>, CommandError> {
    zbus::proxy::Builder::<Proxy<'a>>::new(conn)
        .destination(SERVICE)
        .and_then(|b| b.path(path))
        .and_then(|b| b.interface(iface))
        .map_err(dbus_error)?
        .cache_properties(CacheProperties::No)
        .build()
        .await
        .map_err(dbus_error)
}

async fn run_client(conn: &Connection, client: &Proxy<'_>, req: &LocationRequest) -> Result<Fix, CommandError> {
    client.set_property("DesktopId", DESKTOP_ID).await.map_err(|e| dbus_error(e.into()))?;
    client.set_property("RequestedAccuracyLevel", accuracy_level(req.accuracy)).await.map_err(|e| dbus_error(e.into()))?;
    // Subscribe before Start so an immediate update is not missed.
    let mut updates = client.receive_signal("LocationUpdated").await.map_err(dbus_error)?;
    client.call_method("Start", &()).await.map_err(dbus_error)?;
    while let Some(msg) = updates.next().await {
        let (_old, new): (OwnedObjectPath, OwnedObjectPath) = msg.body().deserialize().map_err(dbus_error)?;
        let fix = read_location(conn, new).await?;
        let age = SystemTime::now().duration_since(fix.timestamp).unwrap_or_default();
        if fix.timestamp == UNIX_EPOCH || age <= req.max_age {
            return Ok(fix);
        }
        tracing::debug!(age_ms = age.as_millis() as u64, "GeoClue fix older than maxAgeMs; waiting for a newer one");
    }
    Err(CommandError::new(codes::LOCATION_UNAVAILABLE, "GeoClue closed the location stream"))
}

async fn read_location(conn: &Connection, path: OwnedObjectPath) -> Result<Fix, CommandError> {
    let loc = uncached(conn, path, "org.freedesktop.GeoClue2.Location").await?;
    let f = |name: &'static str| {
        let loc = &loc;
        async move { loc.get_property::<f64>(name).await.map_err(dbus_error) }
    };
    let (secs, micros): (u64, u64) = loc.get_property("Timestamp").await.map_err(dbus_error)?;
    Ok(Fix {
        lat: f("Latitude").await?,
        lon: f("Longitude").await?,
        accuracy_meters: f("Accuracy").await?,
        // GeoClue marks unknown values: altitude -DBL_MAX, speed and heading -1.
        altitude_meters: Some(f("Altitude").await?).filter(|a| *a > -1e300),
        speed_mps: Some(f("Speed").await?).filter(|s| *s >= 0.0),
        heading_deg: Some(f("Heading").await?).filter(|h| *h >= 0.0),
        timestamp: UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros),
    })
}

fn dbus_error(e: zbus::Error) -> CommandError {
    let text = e.to_string();
    let name = match &e {
        zbus::Error::MethodError(name, _, _) => name.to_string(),
        zbus::Error::FDO(fdo) => zbus::DBusError::name(fdo.as_ref()).to_string(),
        _ => String::new(),
    };
    tracing::debug!(error = %text, name, "GeoClue D-Bus error");
    if name.ends_with("AccessDenied") || text.contains("AccessDenied") {
        CommandError::new(
            codes::LOCATION_PERMISSION_REQUIRED,
            format!("GeoClue denied location access ({text}); allow the `{DESKTOP_ID}` app in GeoClue (a geoclue agent or /etc/geoclue/geoclue.conf)"),
        )
    } else if name.ends_with("ServiceUnknown") || name.ends_with("NameHasNoOwner") || name.ends_with("UnknownObject") {
        CommandError::new(codes::LOCATION_UNAVAILABLE, format!("GeoClue is not running ({text}); {INSTALL_HINT}"))
    } else {
        CommandError::new(codes::LOCATION_UNAVAILABLE, format!("GeoClue failed: {text}"))
    }
}

#[cfg(test)]
mod tests;
