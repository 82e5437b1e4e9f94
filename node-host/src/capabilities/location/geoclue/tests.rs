//! The GeoClue provider against a fake GeoClue2 served on a private `dbus-daemon`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::json;
use zbus::object_server::{ObjectServer, SignalEmitter};
use zbus::zvariant::ObjectPath;

use super::*;
use crate::capabilities::location::get;
use crate::commands::InvokeContext;

/// A private session-type bus; killed on drop.
struct Bus {
    child: Child,
    address: String,
}

impl Bus {
    fn start() -> Bus {
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon not found: install the `dbus` package (scripts/setup.sh)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("bus address");
        Bus { child, address: line.trim().to_string() }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Fix,
    Deny,
    Silent,
    Stale,
}

#[derive(Default)]
struct Seen {
    desktop_id: String,
    level: u32,
    started: bool,
    stopped: bool,
    deleted: bool,
}

struct Manager {
    mode: Mode,
    seen: Arc<Mutex<Seen>>,
}

#[zbus::interface(name = "org.freedesktop.GeoClue2.Manager")]
impl Manager {
    async fn create_client(&self, #[zbus(object_server)] server: &ObjectServer) -> zbus::fdo::Result<OwnedObjectPath> {
        let path = OwnedObjectPath::try_from("/org/freedesktop/GeoClue2/Client/1").map_err(zbus::Error::from)?;
        let client =
            Client { mode: self.mode, seen: self.seen.clone(), location: OwnedObjectPath::try_from("/").map_err(zbus::Error::from)? };
        server.at(&path, client).await?;
        Ok(path)
    }

    async fn delete_client(&self, _client: ObjectPath<'_>) {
        self.seen.lock().unwrap().deleted = true;
    }
}

struct Client {
    mode: Mode,
    seen: Arc<Mutex<Seen>>,
    location: OwnedObjectPath,
}

#[zbus::interface(name = "org.freedesktop.GeoClue2.Client")]
impl Client {
    async fn start(
        &mut self,
        #[zbus(object_server)] server: &ObjectServer,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> zbus::fdo::Result<()> {
        self.seen.lock().unwrap().started = true;
        let timestamp = match self.mode {
            Mode::Deny => return Err(zbus::fdo::Error::AccessDenied("'pincer' disallowed, no agent for UID 0".into())),
            Mode::Silent => return Ok(()),
            Mode::Fix => SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs(),
            Mode::Stale => 1_000_000_000,
        };
        let path = OwnedObjectPath::try_from("/org/freedesktop/GeoClue2/Client/1/Location/1").map_err(zbus::Error::from)?;
        server.at(&path, Location { timestamp }).await?;
        self.location = path.clone();
        Self::location_updated(&emitter, ObjectPath::from_static_str_unchecked("/"), path.as_ref()).await?;
        Ok(())
    }

    async fn stop(&self) {
        self.seen.lock().unwrap().stopped = true;
    }

    #[zbus(property)]
    fn desktop_id(&self) -> String {
        self.seen.lock().unwrap().desktop_id.clone()
    }
    #[zbus(property)]
    fn set_desktop_id(&mut self, id: String) {
        self.seen.lock().unwrap().desktop_id = id;
    }
    #[zbus(property)]
    fn requested_accuracy_level(&self) -> u32 {
        self.seen.lock().unwrap().level
    }
    #[zbus(property)]
    fn set_requested_accuracy_level(&mut self, level: u32) {
        self.seen.lock().unwrap().level = level;
    }
    #[zbus(property)]
    fn location(&self) -> OwnedObjectPath {
        self.location.clone()
    }

    #[zbus(signal)]
    async fn location_updated(emitter: &SignalEmitter<'_>, old: ObjectPath<'_>, new: ObjectPath<'_>) -> zbus::Result<()>;
}

struct Location {
    timestamp: u64,
}

#[zbus::interface(name = "org.freedesktop.GeoClue2.Location")]
impl Location {
    #[zbus(property)]
    fn latitude(&self) -> f64 {
        52.52
    }
    #[zbus(property)]
    fn longitude(&self) -> f64 {
        13.405
    }
    #[zbus(property)]
    fn accuracy(&self) -> f64 {
        1500.0
    }
    #[zbus(property)]
    fn altitude(&self) -> f64 {
        -f64::MAX
    }
    #[zbus(property)]
    fn speed(&self) -> f64 {
        -1.0
    }
    #[zbus(property)]
    fn heading(&self) -> f64 {
        270.0
    }
    #[zbus(property)]
    fn timestamp(&self) -> (u64, u64) {
        (self.timestamp, 250_000)
    }
}

/// Starts a bus with a fake GeoClue on it; keep both alive for the test.
async fn fake_geoclue(mode: Mode) -> (Bus, Connection, Arc<Mutex<Seen>>) {
    let bus = Bus::start();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let conn = zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name(SERVICE)
        .unwrap()
        .serve_at(MANAGER_PATH, Manager { mode, seen: seen.clone() })
        .unwrap()
        .build()
        .await
        .unwrap();
    (bus, conn, seen)
}

#[tokio::test]
async fn gets_a_fix_from_geoclue() {
    let (bus, _svc, seen) = fake_geoclue(Mode::Fix).await;
    let provider = GeoClueProvider::with_address(&bus.address);
    let v = get(&provider, json!({"desiredAccuracy": "precise", "timeoutMs": 5000}), &InvokeContext::detached()).await.unwrap();
    assert_eq!((v["lat"].as_f64(), v["lon"].as_f64(), v["accuracyMeters"].as_f64()), (Some(52.52), Some(13.405), Some(1500.0)));
    assert_eq!(v["headingDeg"], 270.0);
    assert!(v.get("altitudeMeters").is_none() && v.get("speedMps").is_none(), "{v}");
    assert_eq!((v["isPrecise"].as_bool(), v["source"].as_str()), (Some(false), Some("unknown")));
    assert!(v["timestamp"].as_str().unwrap().ends_with(".250Z"), "{v}");
    let seen = seen.lock().unwrap();
    assert_eq!((seen.desktop_id.as_str(), seen.level), ("pincer", 8));
    assert!(seen.started && seen.stopped && seen.deleted);
}

#[tokio::test]
async fn access_denied_is_permission_required() {
    let (bus, _svc, _seen) = fake_geoclue(Mode::Deny).await;
    let e = get(&GeoClueProvider::with_address(&bus.address), json!({}), &InvokeContext::detached()).await.unwrap_err();
    assert_eq!(e.code, "LOCATION_PERMISSION_REQUIRED", "{e}");
}

#[tokio::test]
async fn no_update_is_a_timeout() {
    let (bus, _svc, seen) = fake_geoclue(Mode::Silent).await;
    let provider = GeoClueProvider::with_address(&bus.address);
    let t0 = std::time::Instant::now();
    let e = get(&provider, json!({"timeoutMs": 300, "desiredAccuracy": "coarse"}), &InvokeContext::detached()).await.unwrap_err();
    assert_eq!(e.code, "LOCATION_TIMEOUT", "{e}");
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(seen.lock().unwrap().level, 4);
}

#[tokio::test]
async fn stale_fix_is_not_accepted() {
    let (bus, _svc, _seen) = fake_geoclue(Mode::Stale).await;
    let e = get(&GeoClueProvider::with_address(&bus.address), json!({"timeoutMs": 300, "maxAgeMs": 60000}), &InvokeContext::detached())
        .await
        .unwrap_err();
    assert_eq!(e.code, "LOCATION_TIMEOUT", "{e}");
}

#[tokio::test]
async fn no_geoclue_service_is_unavailable() {
    let bus = Bus::start();
    let e = get(&GeoClueProvider::with_address(&bus.address), json!({}), &InvokeContext::detached()).await.unwrap_err();
    assert_eq!(e.code, "LOCATION_UNAVAILABLE", "{e}");
    assert!(e.message.contains("geoclue"), "{e}");
}

#[tokio::test]
async fn no_bus_is_unavailable() {
    let e =
        get(&GeoClueProvider::with_address("unix:path=/nonexistent/pincer-bus"), json!({}), &InvokeContext::detached()).await.unwrap_err();
    assert_eq!(e.code, "LOCATION_UNAVAILABLE", "{e}");
    assert!(e.message.contains("geoclue"), "{e}");
}
