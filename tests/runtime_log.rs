//! The runtime's own log lines, as the official runtime writes them (the C API's
//! `extism_log_file` shows them; capi/tests/log_file.rs compares with libextism):
//! a plug-in's creation and each call at `debug` and `trace`, an engine failure at
//! `error`, under the target `extism::plugin`; nothing below the level set.
//! One test: the logger and its level are the process's.

use interplug::{CurrentPlugin, Function, Plugin, UserData, Val, ValType};
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::sync::Mutex;

static LINES: Mutex<Vec<(Level, String, String)>> = Mutex::new(Vec::new());

struct Capture;

impl Log for Capture {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }
    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            LINES.lock().unwrap().push((
                record.level(),
                record.target().to_string(),
                record.args().to_string(),
            ));
        }
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

/// The captured lines that mention `text`, as `(level, target, message)`; emptied.
fn take_lines() -> Vec<(Level, String, String)> {
    std::mem::take(&mut *LINES.lock().unwrap())
}

fn has(lines: &[(Level, String, String)], level: Level, target: &str, text: &str) -> bool {
    lines
        .iter()
        .any(|(l, t, m)| *l == level && t == target && m.contains(text))
}

const WAT: &str = r#"(module
  (import "extism:host/user" "hello" (func $h (param i64) (result i64)))
  (func (export "ok") (result i32) i32.const 0)
  (func (export "code") (result i32) i64.const 0 call $h i32.wrap_i64)
  (func (export "trap") (result i32) unreachable))"#;

fn hello() -> Function {
    Function::new(
        "hello",
        [ValType::I64],
        [ValType::I64],
        UserData::new(()),
        |_: &mut CurrentPlugin, _: &[Val], outputs: &mut [Val], _: UserData<()>| {
            outputs[0] = Val::I64(3);
            Ok(())
        },
    )
}

#[test]
fn creation_calls_and_failures_are_logged_at_the_official_levels() {
    log::set_logger(&CAPTURE).expect("the only logger of this test binary");
    log::set_max_level(LevelFilter::Trace);

    let function = hello();
    let mut plugin = Plugin::new(WAT, [function], false).expect("created");
    let id = plugin.id.to_string();
    plugin.call::<&str, &[u8]>("ok", "abc").expect("ok");
    assert!(plugin.call::<&str, &[u8]>("code", "").is_err());
    assert!(plugin.call::<&str, &[u8]>("trap", "").is_err());
    assert!(plugin.call::<&str, &[u8]>("nope", "").is_err());
    let lines = take_lines();
    let show = format!("{lines:#?}");
    let (debug, trace, error) = (Level::Debug, Level::Trace, Level::Error);
    let p = "extism::plugin";
    assert!(
        has(&lines, trace, "extism::function", "Creating function hello"),
        "{show}"
    );
    assert!(has(&lines, debug, p, &format!("{id} created")), "{show}");
    assert!(has(&lines, trace, p, "calling function ok"), "{show}");
    assert!(has(&lines, debug, p, "input size: 3"), "{show}");
    assert!(has(&lines, debug, p, "output length=0"), "{show}");
    assert!(has(&lines, debug, p, "got return code: 0"), "{show}");
    assert!(has(&lines, debug, p, "got return code: 3"), "{show}");
    assert!(
        has(&lines, error, p, "call to trap encountered an error"),
        "{show}"
    );
    assert!(has(&lines, debug, p, "call to nope failed"), "{show}");
    // Every call line names the plug-in; only the trap is an error.
    assert!(
        lines
            .iter()
            .filter(|(_, t, m)| t == p && !m.ends_with("created"))
            .all(|(_, _, m)| m.contains(&id)),
        "{show}"
    );
    assert_eq!(
        lines.iter().filter(|(l, _, _)| *l == error).count(),
        1,
        "{show}"
    );

    // At `info`, the details are gone and the error stays.
    log::set_max_level(LevelFilter::Info);
    let mut plugin = Plugin::new(WAT, [hello()], false).expect("created");
    plugin.call::<&str, &[u8]>("ok", "").expect("ok");
    assert!(plugin.call::<&str, &[u8]>("trap", "").is_err());
    let lines = take_lines();
    let show = format!("{lines:#?}");
    assert_eq!(lines.len(), 1, "{show}");
    assert!(
        has(&lines, error, p, "call to trap encountered an error"),
        "{show}"
    );
}
