use std::sync::Mutex;

use super::*;
use crate::capabilities::avi::tests::parse_avi;
use crate::capabilities::imaging::{decode_jpeg, test_image};
use serde_json::json;

/// A camera that returns generated frames and records what it was asked for.
struct Scripted {
    devices: Vec<CameraDevice>,
    frame: (u32, u32),
    /// Frames per second the fake camera delivers during a clip.
    rate: u32,
    calls: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(devices: Vec<CameraDevice>) -> Self {
        Scripted { devices, frame: (640, 480), rate: 20, calls: Mutex::new(Vec::new()) }
    }
}

fn dev(id: &str, position: &str) -> CameraDevice {
    CameraDevice { id: id.into(), name: format!("Cam {id}"), position: position.into(), device_type: "external".into() }
}

impl CameraBackend for Scripted {
    fn devices(&self) -> Result<Vec<CameraDevice>, CommandError> {
        Ok(self.devices.clone())
    }
    fn capture_frame<'a>(&'a self, id: &'a str, delay: Duration, _c: &'a CancellationToken) -> BoxFuture<'a, DynamicImage> {
        self.calls.lock().unwrap().push(format!("frame {id} {}", delay.as_millis()));
        Box::pin(async move { Ok(test_image(self.frame.0, self.frame.1)) })
    }
    fn capture_clip<'a>(&'a self, id: &'a str, duration: Duration, sink: FrameSink, cancel: &'a CancellationToken) -> BoxFuture<'a, ()> {
        self.calls.lock().unwrap().push(format!("clip {id} {}", duration.as_millis()));
        Box::pin(async move {
            let step = Duration::from_secs(1) / self.rate;
            let mut at = Duration::ZERO;
            while at < duration {
                if cancel.is_cancelled() {
                    return Err(crate::capabilities::cancelled());
                }
                if sink.send((at, test_image(self.frame.0, self.frame.1))).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
                at += step;
            }
            Ok(())
        })
    }
}

fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(v["base64"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn list_formats_devices() {
    let cams = Scripted::new(vec![dev("0", "front"), dev("1", "back")]);
    let v = list(&cams, json!({}), &InvokeContext::detached()).await.unwrap();
    assert_eq!(
        v,
        json!({"devices":[
        {"id":"0","name":"Cam 0","position":"front","deviceType":"external"},
        {"id":"1","name":"Cam 1","position":"back","deviceType":"external"}]})
    );
    assert!(available(&cams));
    assert!(!available(&Scripted::new(vec![])));
}

#[tokio::test]
async fn snap_downscales_and_encodes_jpeg() {
    let cams = Scripted::new(vec![dev("0", "front"), dev("1", "back")]);
    let ctx = InvokeContext::detached();
    let v = snap(&cams, json!({"facing":"back","maxWidth":320,"quality":0.8,"delayMs":250}), &ctx).await.unwrap();
    assert_eq!((v["format"].as_str(), v["width"].as_u64(), v["height"].as_u64()), (Some("jpg"), Some(320), Some(240)));
    let img = decode_jpeg(&b64(&v)).unwrap();
    assert_eq!((img.width(), img.height()), (320, 240));
    assert_eq!(cams.calls.lock().unwrap().as_slice(), ["frame 1 250"]);
    // Defaults: first camera, no delay, maxWidth 1600 (640 wide frames stay 640).
    let v = snap(&cams, Value::Null, &ctx).await.unwrap();
    assert_eq!(v["width"], 640);
    assert_eq!(cams.calls.lock().unwrap()[1], "frame 0 0");
}

#[tokio::test]
async fn snap_params_are_validated() {
    let cams = Scripted::new(vec![dev("0", "front")]);
    let ctx = InvokeContext::detached();
    for bad in [json!({"facing":"up"}), json!({"format":"png"}), json!({"quality":2000}), json!({"delayMs":-1}), json!({"deviceId":"9"})] {
        let e = snap(&cams, bad.clone(), &ctx).await.unwrap_err();
        assert_eq!(e.code, "INVALID_REQUEST", "{bad}: {e}");
    }
    assert_eq!(snap_params(json!({"delayMs": 99999})).unwrap().delay, Duration::from_secs(10));
    assert!(cams.calls.lock().unwrap().is_empty(), "nothing captured for bad params");
}

#[tokio::test]
async fn clip_is_an_mjpeg_avi() {
    let cams = Scripted::new(vec![dev("0", "front")]);
    let ctx = InvokeContext::detached();
    let v = clip(&cams, json!({"durationMs": 1000, "fps": 5, "maxWidth": 160, "format": "mp4"}), &ctx).await.unwrap();
    assert_eq!((v["format"].as_str(), v["hasAudio"].as_bool(), v["durationMs"].as_u64()), (Some("avi"), Some(false), Some(1000)));
    let avi = parse_avi(&b64(&v));
    assert_eq!((avi.total_frames, avi.fps, avi.width, avi.height), (5, 5, 160, 120));
    assert_eq!(cams.calls.lock().unwrap().as_slice(), ["clip 0 1000"]);
}

#[tokio::test]
async fn clip_params_clamp_and_reject() {
    let p = clip_params(json!({})).unwrap();
    assert_eq!((p.duration, p.fps), (Duration::from_millis(3000), 10));
    assert_eq!(clip_params(json!({"durationMs": 600000})).unwrap().duration, Duration::from_secs(60));
    for bad in [json!({"durationMs": 0}), json!({"format":"gif"}), json!({"facing": 3})] {
        assert_eq!(clip_params(bad.clone()).unwrap_err().code, "INVALID_REQUEST", "{bad}");
    }
}

#[tokio::test]
async fn clip_cancel_answers_cancelled() {
    let cams = Scripted { rate: 1, ..Scripted::new(vec![dev("0", "front")]) };
    let ctx = InvokeContext::detached();
    ctx.cancel.cancel();
    let e = clip(&cams, json!({"durationMs": 60000}), &ctx).await.unwrap_err();
    assert_eq!(e.code, "CANCELLED");
}

#[tokio::test]
async fn no_camera_paths_with_scripted_backend() {
    let none = Scripted::new(vec![]);
    let ctx = InvokeContext::detached();
    assert_eq!(list(&none, json!({}), &ctx).await.unwrap(), json!({"devices": []}));
    for e in [snap(&none, json!({}), &ctx).await.unwrap_err(), clip(&none, json!({}), &ctx).await.unwrap_err()] {
        assert_eq!((e.code.as_str(), e.message.as_str()), ("CAMERA_UNAVAILABLE", "no camera found"));
    }
}

/// The real back-end. CI machines (and this one) have no camera: then list is empty and
/// snap/clip say "no camera found". With a camera, list must at least name it.
#[tokio::test]
async fn native_backend_without_or_with_camera() {
    let ctx = InvokeContext::detached();
    let has_video_dev =
        std::fs::read_dir("/dev").map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("video"))).unwrap_or(false);
    let v = list(&NativeCameras, json!({}), &ctx).await.unwrap();
    let devices = v["devices"].as_array().unwrap();
    if cfg!(target_os = "linux") && !has_video_dev {
        assert!(devices.is_empty(), "{v}");
        assert!(!available(&NativeCameras));
        let e = snap(&NativeCameras, json!({}), &ctx).await.unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("CAMERA_UNAVAILABLE", "no camera found"));
        let e = clip(&NativeCameras, json!({"durationMs": 100}), &ctx).await.unwrap_err();
        assert_eq!(e.code, "CAMERA_UNAVAILABLE");
        // deviceId naming a camera that does not exist: still "no camera", not a made-up image.
        let e = snap(&NativeCameras, json!({"deviceId": "0"}), &ctx).await.unwrap_err();
        assert_eq!(e.code, "CAMERA_UNAVAILABLE");
    } else {
        for d in devices {
            assert!(d["id"].is_string() && d["name"].is_string(), "{d}");
        }
    }
}
