//! Node command policy, following OpenClaw's rules: a command is invokable only when the
//! node declared it, the node's command surface was approved (node pairing), and the
//! gateway's allowlist for the node's platform permits it (`gateway.nodes.commands.allow`
//! adds, `.deny` removes and wins; dangerous commands are never on by default).

use std::collections::HashSet;

/// Platform classes a node can fall in. Desktop platforms require a matching
/// `deviceFamily`, or the node is `Unknown` (fail-safe minimal set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformClass {
    Macos,
    Windows,
    Linux,
    Ios,
    Android,
    Watchos,
    Unknown,
}

impl PlatformClass {
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformClass::Macos => "macos",
            PlatformClass::Windows => "windows",
            PlatformClass::Linux => "linux",
            PlatformClass::Ios => "ios",
            PlatformClass::Android => "android",
            PlatformClass::Watchos => "watchos",
            PlatformClass::Unknown => "unknown",
        }
    }
}

/// Classify `platform` + `deviceFamily` the way current OpenClaw gateways do.
pub fn classify(platform: &str, device_family: &str) -> PlatformClass {
    let p = platform.trim().to_lowercase();
    let f = device_family.trim().to_lowercase();
    let first = p.split_whitespace().next().unwrap_or("");
    match first {
        "macos" | "darwin" if f == "mac" => PlatformClass::Macos,
        "windows" | "win32" if f == "windows" => PlatformClass::Windows,
        "linux" if f == "linux" => PlatformClass::Linux,
        "ios" | "ipados" if matches!(f.as_str(), "iphone" | "ipad" | "ios" | "") => PlatformClass::Ios,
        "android" if matches!(f.as_str(), "android" | "") => PlatformClass::Android,
        "watchos" => PlatformClass::Watchos,
        _ => PlatformClass::Unknown,
    }
}

/// Desktop host commands (`system.*`, file/browser/MCP bridges).
const SYSTEM_SET: &[&str] = &[
    "system.run.prepare",
    "system.run",
    "system.which",
    "system.execApprovals.get",
    "system.execApprovals.set",
    "system.notify",
    "browser.proxy",
    "browser.proxy.upload.v1",
    "mcp.tools.call.v1",
    "agent.cli.claude.run.v1",
    "fs.listDir",
    "terminal.upload",
];

/// Canvas commands (a plugin's defaults in OpenClaw; Pincer hosts a canvas on every desktop).
const CANVAS_SET: &[&str] = &[
    "canvas.present",
    "canvas.hide",
    "canvas.navigate",
    "canvas.eval",
    "canvas.snapshot",
    "canvas.a2ui.push",
    "canvas.a2ui.pushJSONL",
    "canvas.a2ui.reset",
];

const MOBILE_SET: &[&str] = &[
    "camera.list",
    "location.get",
    "device.info",
    "device.status",
    "device.permissions",
    "device.health",
    "notifications.list",
    "system.notify",
    "contacts.search",
    "calendar.events",
    "reminders.list",
    "photos.latest",
    "motion.activity",
    "motion.pedometer",
];

/// Never allowed by default, even when declared; only `gateway.nodes.commands.allow` opts in.
pub const DANGEROUS: &[&str] = &[
    "camera.snap",
    "camera.clip",
    "camera.ptz.control",
    "screen.record",
    "desktop.stream",
    "contacts.add",
    "calendar.add",
    "reminders.add",
    "sms.send",
    "sms.search",
    "health.summary",
];

/// Commands that may never be invoked through raw `node.invoke`.
pub const INVOKE_BLOCKED: &[&str] = &["system.execApprovals.get", "system.execApprovals.set"];

/// Commands whose approval needs `operator.admin` in `node.pair.approve`.
pub const ADMIN_APPROVAL_COMMANDS: &[&str] = &[
    "system.run",
    "system.run.prepare",
    "system.which",
    "system.execApprovals.get",
    "system.execApprovals.set",
    "browser.proxy",
    "browser.proxy.upload.v1",
    "fs.listDir",
    "terminal.upload",
];

/// Commands whose `node.invoke` needs `operator.admin` rather than `operator.write`.
pub const ADMIN_INVOKE_COMMANDS: &[&str] = &["browser.proxy", "browser.proxy.upload.v1", "fs.listDir", "terminal.upload"];

/// The platform's default allowlist.
pub fn platform_defaults(class: PlatformClass) -> HashSet<&'static str> {
    let mut set: HashSet<&'static str> = HashSet::new();
    match class {
        PlatformClass::Macos => {
            set.extend(SYSTEM_SET);
            set.extend(CANVAS_SET);
            set.extend([
                "camera.list",
                "camera.ptz.status",
                "location.get",
                "device.info",
                "device.status",
                "device.apps",
                "contacts.search",
                "calendar.events",
                "reminders.list",
                "photos.latest",
                "motion.activity",
                "motion.pedometer",
                "screen.snapshot",
                "computer.act",
            ]);
        }
        PlatformClass::Windows => {
            set.extend(SYSTEM_SET);
            set.extend(CANVAS_SET);
            set.extend(["camera.list", "location.get", "device.info", "device.status", "screen.snapshot", "computer.act"]);
        }
        PlatformClass::Linux => {
            set.extend(SYSTEM_SET);
            set.extend(CANVAS_SET);
            set.extend(["camera.list", "location.get", "screen.snapshot", "computer.act"]);
        }
        PlatformClass::Ios | PlatformClass::Android | PlatformClass::Watchos => {
            set.extend(MOBILE_SET);
            set.extend(CANVAS_SET);
        }
        PlatformClass::Unknown => {
            set.extend(["camera.list", "location.get", "system.notify"]);
        }
    }
    set
}

/// Why a command cannot be invoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    Denied,
    Dangerous,
    NotAllowlisted,
    NotDeclared,
    NothingDeclared,
    SurfacePending,
}

impl Denial {
    pub fn reason(&self) -> &'static str {
        match self {
            Denial::Denied => "command denied by config",
            Denial::Dangerous => "dangerous command requires opt-in",
            Denial::NotAllowlisted => "command not allowlisted",
            Denial::NotDeclared => "command not declared by node",
            Denial::NothingDeclared | Denial::SurfacePending => "node did not declare commands",
        }
    }

    pub fn message(&self, command: &str, platform: &str) -> String {
        match self {
            Denial::Denied => format!("node command not allowed: \"{command}\" is blocked by gateway.nodes.commands.deny"),
            Denial::Dangerous => format!(
                "node command not allowed: \"{command}\" requires explicit gateway.nodes.commands.allow opt-in"
            ),
            Denial::NotAllowlisted => {
                format!("node command not allowed: \"{command}\" is not in the allowlist for platform \"{platform}\"")
            }
            Denial::NotDeclared => {
                format!("node command not allowed: the node (platform: {platform}) does not support \"{command}\"")
            }
            Denial::NothingDeclared => "node command not allowed: the node did not declare any supported commands".into(),
            Denial::SurfacePending => "node command not allowed: the node's declared command surface is pending approval; run `pincer-gateway nodes pending`, then `pincer-gateway nodes approve <requestId>`".into(),
        }
    }
}

/// Whether the platform policy allows `command` (before looking at what the node declared).
pub fn allowed_by_policy(command: &str, class: PlatformClass, allow: &[String], deny: &[String]) -> Result<(), Denial> {
    if deny.iter().any(|d| d == command) {
        return Err(Denial::Denied);
    }
    if allow.iter().any(|a| a == command) {
        return Ok(());
    }
    if DANGEROUS.contains(&command) {
        return Err(Denial::Dangerous);
    }
    if command.starts_with("talk.ptt.") {
        // Talk commands ride on the node's own `talk` capability; callers check caps.
        return Ok(());
    }
    if platform_defaults(class).contains(command) {
        Ok(())
    } else {
        Err(Denial::NotAllowlisted)
    }
}

/// Scopes an operator needs to approve a node surface declaring `commands`.
pub fn required_approve_scopes(commands: &[String]) -> Vec<&'static str> {
    use pincer_protocol::scopes::{ADMIN, PAIRING, WRITE};
    if commands.iter().any(|c| ADMIN_APPROVAL_COMMANDS.contains(&c.as_str())) {
        vec![PAIRING, ADMIN]
    } else if !commands.is_empty() {
        vec![PAIRING, WRITE]
    } else {
        vec![PAIRING]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desktop_platforms_need_a_matching_family() {
        assert_eq!(classify("linux", "Linux"), PlatformClass::Linux);
        assert_eq!(classify("linux", "desktop"), PlatformClass::Unknown);
        assert_eq!(classify("macos", "Mac"), PlatformClass::Macos);
        assert_eq!(classify("darwin", "Mac"), PlatformClass::Macos);
        assert_eq!(classify("windows", "Windows"), PlatformClass::Windows);
        assert_eq!(classify("iOS 18.4", "iPhone"), PlatformClass::Ios);
        assert_eq!(classify("Android 15 (SDK 35)", "Android"), PlatformClass::Android);
        assert_eq!(classify("plan9", "x"), PlatformClass::Unknown);
    }

    #[test]
    fn dangerous_commands_need_opt_in_and_deny_wins() {
        let none: Vec<String> = vec![];
        assert_eq!(allowed_by_policy("camera.snap", PlatformClass::Macos, &none, &none), Err(Denial::Dangerous));
        let allow = vec!["camera.snap".to_string()];
        assert_eq!(allowed_by_policy("camera.snap", PlatformClass::Macos, &allow, &none), Ok(()));
        assert_eq!(allowed_by_policy("camera.snap", PlatformClass::Macos, &allow, &allow), Err(Denial::Denied));
        assert_eq!(allowed_by_policy("system.run", PlatformClass::Linux, &none, &none), Ok(()));
        assert_eq!(allowed_by_policy("system.run", PlatformClass::Unknown, &none, &none), Err(Denial::NotAllowlisted));
        assert_eq!(allowed_by_policy("sms.send", PlatformClass::Android, &none, &none), Err(Denial::Dangerous));
    }

    #[test]
    fn approving_system_commands_needs_admin() {
        use pincer_protocol::scopes::{ADMIN, PAIRING, WRITE};
        assert_eq!(required_approve_scopes(&["system.which".into()]), vec![PAIRING, ADMIN]);
        assert_eq!(required_approve_scopes(&["canvas.present".into()]), vec![PAIRING, WRITE]);
        assert_eq!(required_approve_scopes(&[]), vec![PAIRING]);
    }
}
