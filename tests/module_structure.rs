//! The shape of `src/`, read from the code's own `crate::` and `super::` paths:
//!
//! - no file reaches, through its paths, a file that reaches it back (no cycles);
//! - the folders are layers: a folder (or root file) imports only those listed before
//!   it in [`LAYERS`];
//! - the longest chain of files importing each other is at most [`MAX_DEPTH`] files,
//!   and so is the longest chain of folders;
//! - no file has more than [`MAX_LINES`] lines of non-test code.
//!
//! A path to a folder's `mod.rs` or to `lib.rs` that names an item they only re-export
//! counts as a path to the file that defines the item. Unit-test code (`tests.rs`
//! files and `#[cfg(test)] mod tests` blocks) is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers of `src/`, lower first: each may import only the ones before it. A name
/// is a folder or a file at the root of `src/` (without `.rs`).
const LAYERS: &[&str] = &[
    "error", "platform", "manifest", "kernel", "limits", "rewrite", "os", "host", "sdk", "imports",
    "load", "plugin", "fuzzing",
];

/// The longest chain of modules importing each other, counted in modules (files, or
/// folders for the folder graph).
const MAX_DEPTH: usize = 9;

/// The most lines of non-test code in one file.
const MAX_LINES: usize = 600;

/// One source file: its module path (`["kernel", "abi"]`; `mod.rs` is its folder's
/// path, `lib.rs` the empty path) and its text without comments and unit tests.
struct SourceFile {
    module: Vec<String>,
    is_folder_root: bool,
    text: String,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
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
    files.sort();
    files
}

/// The files of `src/` by module path, unit-test files left out.
fn source_files(src: &Path) -> BTreeMap<Vec<String>, SourceFile> {
    let mut files = BTreeMap::new();
    for path in walk(src) {
        let relative = path.strip_prefix(src).expect("below src");
        let mut module: Vec<String> = relative
            .iter()
            .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        if module.last().is_some_and(|last| last == "tests") {
            continue;
        }
        let is_folder_root = matches!(module.last().map(String::as_str), Some("mod" | "lib"));
        if is_folder_root {
            module.pop();
        }
        let text = strip(&std::fs::read_to_string(&path).expect("readable"));
        files.insert(
            module.clone(),
            SourceFile {
                module,
                is_folder_root,
                text,
            },
        );
    }
    files
}

/// `text` without its unit-test module and without line comments (doc comments
/// included).
fn strip(text: &str) -> String {
    let text = without_tests(text);
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` up to its `#[cfg(test)] mod tests`, which comes last in every file.
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    }
}

/// The lines of non-test code of a file.
fn code_lines(text: &str) -> usize {
    without_tests(text).lines().count()
}

/// Every path that starts with `crate::` or `super::` in `text`, with `use` groups
/// expanded: `use crate::{a::{B, C}, d};` gives `crate::a::B`, `crate::a::C`,
/// `crate::d`. `$crate::` (macro bodies) is not a dependency of the file.
fn paths(text: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let starts = ["crate::", "super::"]
            .iter()
            .find(|p| rest.starts_with(**p))
            .copied();
        let preceded = at > 0
            && (bytes[at - 1].is_ascii_alphanumeric()
                || bytes[at - 1] == b'_'
                || bytes[at - 1] == b'$'
                || bytes[at - 1] == b':');
        match starts {
            Some(prefix) if !preceded => {
                let head = prefix.trim_end_matches("::").to_string();
                let (tree, used) = use_tree(&rest[prefix.len()..]);
                for mut path in tree {
                    path.insert(0, head.clone());
                    found.push(path);
                }
                at += prefix.len() + used.max(1);
            }
            _ => at += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    found
}

/// Reads a use tree (`a::b`, `a::{b, c::d}`, `{a, b}`) at the start of `text`: the
/// paths it names and how many bytes it takes.
fn use_tree(text: &str) -> (Vec<Vec<String>>, usize) {
    let ident_len = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    if text.starts_with('{') {
        let mut paths = Vec::new();
        let mut at = 1;
        loop {
            let rest = &text[at..];
            let skipped = rest.len() - rest.trim_start_matches([' ', '\n', ',', '\t']).len();
            at += skipped;
            if at >= text.len() || text[at..].starts_with('}') {
                return (paths, (at + 1).min(text.len()));
            }
            let (inner, used) = use_tree(&text[at..]);
            if used == 0 {
                return (paths, at);
            }
            paths.extend(inner);
            at += used;
        }
    }
    if ident_len == 0 {
        return (Vec::new(), 0);
    }
    let ident = text[..ident_len].to_string();
    let rest = &text[ident_len..];
    if let Some(after) = rest.strip_prefix("::") {
        let (inner, used) = use_tree(after);
        if used > 0 {
            let paths = inner
                .into_iter()
                .map(|mut p| {
                    p.insert(0, ident.clone());
                    p
                })
                .collect();
            return (paths, ident_len + 2 + used);
        }
    }
    (vec![vec![ident]], ident_len)
}

/// Items a folder root (`mod.rs`, `lib.rs`) re-exports with `pub use`, by name, with
/// the path (relative to that folder) each comes from.
fn reexports(file: &SourceFile) -> BTreeMap<String, Vec<String>> {
    let mut map = BTreeMap::new();
    for statement in file.text.split(';') {
        let Some(at) = statement.find("pub use ") else {
            continue;
        };
        let body = statement[at + "pub use ".len()..].trim();
        let (body, base) = match body.strip_prefix("crate::") {
            Some(rest) => (rest, Vec::new()),
            None => (body, file.module.clone()),
        };
        let (tree, _) = use_tree(body);
        for path in tree {
            if let Some(name) = path.last() {
                let mut full = base.clone();
                full.extend(path.iter().cloned());
                map.insert(name.clone(), full);
            }
        }
    }
    map
}

/// The file a path names, following re-exports of folder roots.
fn resolve(
    files: &BTreeMap<Vec<String>, SourceFile>,
    from: &SourceFile,
    path: &[String],
    hops: usize,
) -> Option<Vec<String>> {
    let mut absolute: Vec<String> = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        // `super` is the parent of the module: of `a::b` (`a/b.rs`, or `a/b/mod.rs`
        // for a folder) it is `a`.
        Some("super") => {
            let mut base = from.module.clone();
            base.pop();
            base
        }
        _ => return None,
    };
    absolute.extend(path[1..].iter().cloned());
    // The longest prefix that is a file.
    let mut len = absolute.len();
    while len > 0 && !files.contains_key(&absolute[..len]) {
        len -= 1;
    }
    let file = files.get(&absolute[..len])?;
    if file.is_folder_root && len < absolute.len() && hops < 8 {
        if let Some(target) = reexports(file).get(&absolute[len]) {
            let mut target = target.clone();
            target.insert(0, String::from("crate"));
            target.extend(absolute[len + 1..].iter().cloned());
            return resolve(files, from, &target, hops + 1).or(Some(absolute[..len].to_vec()));
        }
    }
    Some(absolute[..len].to_vec())
}

/// The file graph: which files each file's paths reach (folder roots that only declare
/// and re-export are left out as sources, since their paths are their children's).
fn file_graph(files: &BTreeMap<Vec<String>, SourceFile>) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in files {
        let name = display(module);
        let deps = edges.entry(name.clone()).or_default();
        if module.is_empty() {
            continue;
        }
        for path in paths(&file.text) {
            if let Some(target) = resolve(files, file, &path, 0) {
                let target_name = display(&target);
                if target_name != name && !target.is_empty() {
                    deps.insert(target_name);
                }
            }
        }
    }
    edges
}

/// The layer (top folder or root file) of a module path.
fn layer(module: &str) -> String {
    module.split("::").next().unwrap_or(module).to_string()
}

fn display(module: &[String]) -> String {
    if module.is_empty() {
        String::from("lib")
    } else {
        module.join("::")
    }
}

/// A path from a node back to itself, if the graph has one.
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

/// The longest chain of the (acyclic) graph, as its nodes.
fn longest_chain(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    fn from(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        memo: &mut BTreeMap<String, Vec<String>>,
    ) -> Vec<String> {
        if let Some(chain) = memo.get(node) {
            return chain.clone();
        }
        let mut best: Vec<String> = Vec::new();
        for next in edges.get(node).into_iter().flatten() {
            let chain = from(next, edges, memo);
            if chain.len() > best.len() {
                best = chain;
            }
        }
        best.insert(0, node.to_string());
        memo.insert(node.to_string(), best.clone());
        best
    }
    let mut memo = BTreeMap::new();
    let mut best = Vec::new();
    for node in edges.keys() {
        let chain = from(node, edges, &mut memo);
        if chain.len() > best.len() {
            best = chain;
        }
    }
    best
}

/// The folder graph drawn from the file graph.
fn folder_graph(files: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, deps) in files {
        if from == "lib" {
            continue;
        }
        let entry = edges.entry(layer(from)).or_default();
        for dep in deps {
            if layer(dep) != layer(from) && dep != "lib" {
                entry.insert(layer(dep));
            }
        }
    }
    edges
}

#[test]
fn files_and_folders_form_layers_without_cycles() {
    let files = source_files(&src());
    let graph = file_graph(&files);
    assert!(graph.len() > 30, "read the files of src/: {graph:?}");
    assert!(
        graph.values().filter(|deps| !deps.is_empty()).count() > 20,
        "found dependencies: {graph:?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "files depend on each other in a cycle: {}",
            cycle.join(" -> ")
        );
    }
    let folders = folder_graph(&graph);
    if let Some(cycle) = find_cycle(&folders) {
        panic!(
            "folders depend on each other in a cycle: {}",
            cycle.join(" -> ")
        );
    }
    let rank = |name: &str| LAYERS.iter().position(|l| *l == name);
    let mut wrong = Vec::new();
    for (folder, deps) in &folders {
        let Some(own) = rank(folder) else {
            wrong.push(format!("`{folder}` is not in LAYERS: place it"));
            continue;
        };
        for dep in deps {
            match rank(dep) {
                Some(theirs) if theirs < own => {}
                _ => wrong.push(format!("`{folder}` imports `{dep}`, a layer above it")),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));

    let chain = longest_chain(&graph);
    println!(
        "longest file chain ({}): {}",
        chain.len(),
        chain.join(" -> ")
    );
    assert!(
        chain.len() <= MAX_DEPTH,
        "a chain of {} files import each other (at most {MAX_DEPTH}): {}",
        chain.len(),
        chain.join(" -> ")
    );
    let chain = longest_chain(&folders);
    println!(
        "longest folder chain ({}): {}",
        chain.len(),
        chain.join(" -> ")
    );
    assert!(chain.len() <= MAX_DEPTH, "{}", chain.join(" -> "));
}

#[test]
fn no_file_is_too_long() {
    let mut long = Vec::new();
    for path in walk(&src()) {
        if path.file_stem().is_some_and(|s| s == "tests") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let lines = code_lines(&text);
        if lines > MAX_LINES {
            long.push(format!("{} has {lines} lines of code", path.display()));
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines (split them by job):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_check_reads_paths_and_finds_cycles() {
    let text = "use crate::{a::X, b::{c::Y, Z}};\nfn f() { crate::c::g(); $crate::m::n() }";
    let found: BTreeSet<String> = paths(&strip(text))
        .into_iter()
        .map(|p| p.join("::"))
        .collect();
    let expected: BTreeSet<String> = [
        "crate::a::X",
        "crate::b::c::Y",
        "crate::b::Z",
        "crate::c::g",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(found, expected);
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
    // `super::` names the parent module, from a file and from a folder's `mod.rs`.
    let file = |module: &[&str], is_folder_root: bool| SourceFile {
        module: module.iter().map(|m| m.to_string()).collect(),
        is_folder_root,
        text: String::new(),
    };
    let files: BTreeMap<Vec<String>, SourceFile> = [
        file(&["a"], true),
        file(&["a", "b"], false),
        file(&["a", "c"], true),
        file(&["a", "c", "d"], false),
    ]
    .into_iter()
    .map(|f| (f.module.clone(), f))
    .collect();
    let path = |text: &str| -> Vec<String> { text.split("::").map(String::from).collect() };
    let resolved = |from: &[&str], text: &str| {
        let from = &files[&from.iter().map(|m| m.to_string()).collect::<Vec<_>>()];
        resolve(&files, from, &path(text), 0).map(|m| m.join("::"))
    };
    assert_eq!(resolved(&["a", "b"], "super::c::X"), Some("a::c".into()));
    assert_eq!(resolved(&["a", "c"], "super::b::f"), Some("a::b".into()));
    assert_eq!(resolved(&["a", "c", "d"], "super::Y"), Some("a::c".into()));
    assert_eq!(find_cycle(&graph(&[("a", "b"), ("b", "c")])), None);
    assert_eq!(
        find_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        longest_chain(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])),
        vec!["a", "b", "c"]
    );
}
