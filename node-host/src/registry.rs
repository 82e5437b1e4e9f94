//! The standard command set, built from what is enabled and what this machine can do now.

use std::sync::Arc;

use pincer_protocol::nodes::commands as cmd;

use crate::approvals::ExecGate;
use crate::capabilities::{camera, location, screen, CapabilitySettings};
use crate::commands::{exec_approvals, notify, system_run, which, CommandRegistry};
use crate::events::NodeEvents;

/// What the standard commands run on.
#[derive(Clone)]
pub struct Services {
    pub gate: Arc<ExecGate>,
    pub events: NodeEvents,
    pub settings: CapabilitySettings,
    pub camera: Arc<dyn camera::CameraBackend>,
    pub location: Arc<dyn location::LocationProvider>,
}

/// Register `system.*` always, and screen/camera/location only when the person enabled them.
/// Screen commands also need a display that can be captured right now.
pub fn standard_commands(services: &Services) -> CommandRegistry {
    let mut registry = CommandRegistry::new();
    let run = system_run::SystemRun { gate: services.gate.clone(), events: services.events.clone() };
    registry.register(cmd::SYSTEM_RUN, "system", move |params, ctx| {
        let run = run.clone();
        async move { run.run(params, ctx).await }
    });
    registry.register(cmd::SYSTEM_RUN_PREPARE, "system", system_run::prepare);
    registry.register(cmd::SYSTEM_WHICH, "system", which::which);
    registry.register(cmd::SYSTEM_NOTIFY, "system", notify::notify);
    let gate = services.gate.clone();
    registry.register(cmd::SYSTEM_EXEC_APPROVALS_GET, "system", move |params, ctx| exec_approvals::get(gate.clone(), params, ctx));
    let gate = services.gate.clone();
    registry.register(cmd::SYSTEM_EXEC_APPROVALS_SET, "system", move |params, ctx| exec_approvals::set(gate.clone(), params, ctx));

    let settings = &services.settings;
    if settings.screen && screen::available() {
        registry.register(cmd::SCREEN_SNAPSHOT, "screen", |params, ctx| async move { screen::snapshot(params, &ctx).await });
        registry.register(cmd::SCREEN_RECORD, "screen", |params, ctx| async move { screen::record(params, &ctx).await });
    } else if settings.screen {
        tracing::warn!("screen capture is enabled but no display can be captured; screen.* not offered");
    }
    if settings.camera {
        let backend = services.camera.clone();
        registry.register(cmd::CAMERA_LIST, "camera", move |params, ctx| {
            let backend = backend.clone();
            async move { camera::list(backend.as_ref(), params, &ctx).await }
        });
        // snap/clip stay declared without a camera (one may be plugged in later); they then
        // fail with CAMERA_UNAVAILABLE rather than vanish from the node's surface.
        if !camera::available(services.camera.as_ref()) {
            tracing::warn!("camera is enabled but no camera was found; camera.snap/clip will report CAMERA_UNAVAILABLE");
        }
        {
            let backend = services.camera.clone();
            registry.register(cmd::CAMERA_SNAP, "camera", move |params, ctx| {
                let backend = backend.clone();
                async move { camera::snap(backend.as_ref(), params, &ctx).await }
            });
            let backend = services.camera.clone();
            registry.register(cmd::CAMERA_CLIP, "camera", move |params, ctx| {
                let backend = backend.clone();
                async move { camera::clip(backend.as_ref(), params, &ctx).await }
            });
        }
    }
    if settings.location {
        let provider = services.location.clone();
        registry.register(cmd::LOCATION_GET, "location", move |params, ctx| {
            let provider = provider.clone();
            async move { location::get(provider.as_ref(), params, &ctx).await }
        });
    }
    registry
}
