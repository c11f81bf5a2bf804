//! The modules of `src/` depend on each other one way only: no module reaches, through
//! its `crate::` paths, a module that reaches it back. The test reads the sources.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The source text of every module, by module name (a folder module's files together),
/// without comments and without its `#[cfg(test)]` module.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("src/ is readable") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name")
            .to_string();
        let files: Vec<PathBuf> = if path.is_dir() {
            walk(&path)
        } else if path.extension().is_some_and(|e| e == "rs") {
            vec![path.clone()]
        } else {
            continue;
        };
        let text: String = files
            .iter()
            .map(|f| std::fs::read_to_string(f).expect("readable"))
            .map(|t| strip(&t))
            .collect::<Vec<_>>()
            .join("\n");
        // `x.rs` and the folder `x/` are one module.
        let module: &mut String = modules.entry(name).or_default();
        module.push('\n');
        module.push_str(&text);
    }
    modules
}

/// Every `.rs` file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// `text` without line comments (doc comments included) and without the unit-test
/// module at its end.
fn strip(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifiers that follow `crate::` in `text`, and those inside `use crate::{...}`.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find("};").unwrap_or(group.len());
            for part in group[..end].split([',', '{', '}', '\n', ' ']) {
                let part = part.trim();
                if !part.is_empty() {
                    names.insert(ident(part));
                }
            }
        } else {
            names.insert(ident(rest));
        }
    }
    names
}

/// Names `lib.rs` re-exports, with the module each comes from.
fn reexports(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for statement in lib.split(';') {
        let Some(at) = statement.find("pub use ") else {
            continue;
        };
        let body = &statement[at + "pub use ".len()..];
        let Some((module, items)) = body.split_once("::") else {
            continue;
        };
        for item in items.split([',', '{', '}', '\n', ' ']) {
            let item = item.trim();
            if !item.is_empty() {
                map.insert(item.to_string(), module.trim().to_string());
            }
        }
    }
    map
}

/// A path from a module back to itself, if the dependency graph has one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    for start in edges.keys() {
        let mut stack: Vec<Vec<String>> = vec![vec![start.clone()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = path.last()?.clone();
            for next in edges.get(&last).into_iter().flatten() {
                let mut longer = path.clone();
                longer.push(next.clone());
                if next == start {
                    return Some(longer);
                }
                if seen.insert(next.clone()) {
                    stack.push(longer);
                }
            }
        }
    }
    None
}

#[test]
fn modules_have_no_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    let lib = modules.get("lib").expect("lib.rs").clone();
    let reexported = reexports(&lib);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, text) in &modules {
        if name == "lib" {
            continue;
        }
        let deps = crate_paths(text)
            .into_iter()
            .filter_map(|n| {
                if modules.contains_key(&n) {
                    Some(n)
                } else {
                    reexported.get(&n).cloned()
                }
            })
            .filter(|d| d != name && d != "lib")
            .collect();
        edges.insert(name.clone(), deps);
    }
    assert!(edges.len() > 10, "read the modules of src/: {edges:?}");
    assert!(
        edges.values().any(|deps| !deps.is_empty()),
        "found dependencies: {edges:?}"
    );
    if let Some(cycle) = find_cycle(&edges) {
        panic!(
            "modules depend on each other in a cycle: {}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_check_reads_paths_and_finds_cycles() {
    let text = "use crate::{a::X, b};\nfn f() { crate::c::g() } // crate::d";
    let found = crate_paths(&strip(text));
    assert_eq!(
        found,
        ["a", "b", "c"].into_iter().map(String::from).collect()
    );
    let graph = |pairs: &[(&str, &str)]| {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in pairs {
            edges
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
            edges.entry(to.to_string()).or_default();
        }
        edges
    };
    assert_eq!(find_cycle(&graph(&[("a", "b"), ("b", "c")])), None);
    assert_eq!(
        find_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
