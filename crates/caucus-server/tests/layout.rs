//! The shape of the code, checked like behaviour: the modules of this crate import each other
//! without a cycle (so each can be read, tested and moved on its own), and no source file of
//! the workspace grows past [`MAX_CODE_LINES`] lines of code unless [`LARGE_FILES`] says why.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lines of code (not blank, not comments, before the unit tests) a source file may hold.
const MAX_CODE_LINES: usize = 800;

/// Files allowed past [`MAX_CODE_LINES`], each with the reason.
const LARGE_FILES: &[(&str, &str)] = &[];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The lines of code of a file: up to its unit tests, without blank lines and comments.
fn code_lines(source: &str) -> Vec<&str> {
    let end = source.find("#[cfg(test)]").unwrap_or(source.len());
    source[..end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .collect()
}

/// The top-level module a file of `src` belongs to (`api/rooms.rs` → `api`).
fn top_module(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_owned()
}

/// Every `crate::<module>` a line of code names.
fn named_modules(line: &str) -> impl Iterator<Item = &str> {
    line.match_indices("crate::").filter_map(move |(at, _)| {
        let rest = &line[at + "crate::".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        (end > 0).then(|| &rest[..end])
    })
}

/// The module graph of a crate's `src`: which top-level module names which.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = top_module(src, file);
        if module == "lib" || module == "main" {
            continue;
        }
        let source = std::fs::read_to_string(file).unwrap();
        let named: BTreeSet<String> = code_lines(&source)
            .into_iter()
            .flat_map(named_modules)
            .filter(|m| *m != module)
            .map(str::to_owned)
            .collect();
        graph.entry(module).or_default().extend(named);
    }
    graph
}

/// A cycle of the graph, if it has one (depth-first search with the path kept).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if graph.contains_key(next)
                && let Some(cycle) = visit(next, graph, path, done)
            {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_modules_of_the_server_import_each_other_without_a_cycle() {
    let graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.len() > 20, "the scan found the modules: {graph:?}");
    assert!(
        graph["api"].contains("control"),
        "edges are seen: {graph:?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!("an import cycle: {}", cycle.join(" → "));
    }
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    let line = "use crate::api::error::ApiError; let x = crate::clock::unix_ms();";
    assert_eq!(named_modules(line).collect::<Vec<_>>(), ["api", "clock"]);
}

#[test]
fn no_source_file_is_larger_than_the_limit_without_a_reason() {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let src = entry.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 100, "the scan found the sources");
    let crates = crates_dir().canonicalize().unwrap();
    let mut too_large = Vec::new();
    for file in files {
        let name = file
            .canonicalize()
            .unwrap()
            .strip_prefix(&crates)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let lines = code_lines(&std::fs::read_to_string(&file).unwrap()).len();
        let excused = LARGE_FILES.iter().any(|(large, _)| *large == name);
        if lines > MAX_CODE_LINES && !excused {
            too_large.push(format!("{name}: {lines} lines of code"));
        }
    }
    assert!(
        too_large.is_empty(),
        "split these files (or say in LARGE_FILES why not): {too_large:#?}"
    );
}
