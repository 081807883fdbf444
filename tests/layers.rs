//! The import graph between vigil's top-level modules: no cycles, and no module imports from a
//! higher layer than its own. The layer table is the one in `ARCHITECTURE.md` (between the
//! `layers:begin` / `layers:end` markers), so the documentation and this check cannot drift.
//!
//! std only, so it also runs without building vigil: `scripts/layers.sh` compiles this file with
//! plain `rustc --test` and prints the graph (`cargo test --test layers -- --nocapture` does the
//! same inside the suite).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    // `CARGO_MANIFEST_DIR` under cargo; the working directory under `scripts/layers.sh`.
    option_env!("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Known upward imports, each with its reason: (file, imported module).
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Source with comments, string and char literals blanked out (so `crate::` in a doc comment or
/// a message does not count as an import).
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if (c == 'r' || (c == 'b' && next == Some('r')))
            && !prev_is_ident(&b, i)
            && raw_string_start(&b, i).is_some()
        {
            let (hashes, body) = raw_string_start(&b, i).unwrap_or((0, i));
            let mut j = body;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < b.len() && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// At `r"`, `r#"`, `br##"` …: (number of hashes, index after the opening quote).
fn raw_string_start(b: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if b[j] == 'b' {
        j += 1;
    }
    if b.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while b.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (b.get(j) == Some(&'"')).then_some((hashes, j + 1))
}

/// Whether a `super::` chain climbs out of the file's top-level module (that would hide an
/// import from this check). Inline `mod x { … }` blocks add a level.
fn super_escapes(code: &str, file_depth: usize) -> bool {
    let s: Vec<char> = code.chars().collect();
    let mut braces = 0usize;
    let mut inline_mods: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            '{' => braces += 1,
            '}' => {
                braces = braces.saturating_sub(1);
                if inline_mods.last() == Some(&braces) {
                    inline_mods.pop();
                }
            }
            _ => {}
        }
        if !prev_is_ident(&s, i) {
            let (word, k) = ident_at(&s, i);
            if word == "mod" {
                let (_, k2) = ident_at(&s, k);
                let mut j = k2;
                while j < s.len() && s[j].is_whitespace() {
                    j += 1;
                }
                if s.get(j) == Some(&'{') {
                    inline_mods.push(braces);
                }
            } else if word == "super" {
                let mut n = 0;
                let mut j = i;
                loop {
                    let (w, k) = ident_at(&s, j);
                    if w == "super" && s.get(k) == Some(&':') && s.get(k + 1) == Some(&':') {
                        n += 1;
                        j = k + 2;
                    } else {
                        break;
                    }
                }
                if n >= file_depth + inline_mods.len() {
                    return true;
                }
                i = j.max(i + 1);
                continue;
            }
            if k > i {
                i = k;
                continue;
            }
        }
        i += 1;
    }
    false
}

fn ident_at(s: &[char], mut i: usize) -> (String, usize) {
    while i < s.len() && s[i].is_whitespace() {
        i += 1;
    }
    let start = i;
    while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
        i += 1;
    }
    (s[start..i].iter().collect(), i)
}

/// The top-level modules a file's code names through `crate::` (or `vigil::` in the binary),
/// including `use crate::{a::x, b}` groups.
fn imports(code: &str, prefix: &str) -> BTreeSet<String> {
    let s: Vec<char> = code.chars().collect();
    let p: Vec<char> = prefix.chars().collect();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i + p.len() <= s.len() {
        if s[i..i + p.len()] == p[..] && !prev_is_ident(&s, i) && (i == 0 || s[i - 1] != '$') {
            let mut j = i + p.len();
            while j < s.len() && s[j].is_whitespace() {
                j += 1;
            }
            if s.get(j) == Some(&'{') {
                // `crate::{a, b::{c, d}, e}`: the first segment of each top-level item.
                let mut depth = 0;
                let mut expect = true;
                while j < s.len() {
                    match s[j] {
                        '{' => {
                            depth += 1;
                            if depth == 1 {
                                expect = true;
                            }
                            j += 1;
                        }
                        '}' => {
                            depth -= 1;
                            j += 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        ',' if depth == 1 => {
                            expect = true;
                            j += 1;
                        }
                        c if depth == 1 && expect && (c.is_alphanumeric() || c == '_') => {
                            let (id, k) = ident_at(&s, j);
                            out.insert(id);
                            expect = false;
                            j = k;
                        }
                        _ => j += 1,
                    }
                }
                i = j;
            } else {
                let (id, k) = ident_at(&s, j);
                if !id.is_empty() {
                    out.insert(id);
                }
                i = k;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The layer table from ARCHITECTURE.md: module → layer.
fn layer_table() -> BTreeMap<String, u32> {
    let path = root().join("ARCHITECTURE.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let block = text
        .split("<!-- layers:begin -->")
        .nth(1)
        .and_then(|t| t.split("<!-- layers:end -->").next())
        .expect("ARCHITECTURE.md has a layers:begin … layers:end block");
    let mut table = BTreeMap::new();
    for line in block.lines() {
        let line = line.trim().trim_start_matches('|').trim();
        let mut words = line.split(|c: char| c.is_whitespace() || c == '|' || c == ',');
        let Some(Ok(layer)) = words.next().map(str::parse::<u32>) else {
            continue;
        };
        for w in words {
            let w = w.trim_matches('`');
            if w == "—" || w == "-" {
                break; // the rest of the row is a description
            }
            if !w.is_empty() {
                table.insert(w.to_string(), layer);
            }
        }
    }
    table
}

struct Graph {
    /// module → (imported module → files that import it)
    edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

fn build_graph() -> Graph {
    let src = root().join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mut modules = BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap_or(f);
        let first = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().to_string());
        if let Some(m) = first {
            modules.insert(m.trim_end_matches(".rs").to_string());
        }
    }
    let mut edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap_or(f);
        let module = rel
            .components()
            .next()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_string()
            })
            .unwrap_or_default();
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let code = code_only(&text);
        let depth =
            rel.components().count() - usize::from(rel.file_name().is_some_and(|n| n == "mod.rs"));
        let file = format!("src/{}", rel.display());
        assert!(
            module == "lib" || module == "main" || !super_escapes(&code, depth),
            "{file}: a `super::` path leaves its top-level module; write `crate::` instead"
        );
        // The binary (main.rs) names the library as `vigil::`.
        let mut found = imports(&code, "crate::");
        found.extend(imports(&code, "vigil::"));
        let entry = edges.entry(module.clone()).or_default();
        for m in found {
            if m != module && modules.contains(&m) {
                entry.entry(m).or_default().insert(file.clone());
            }
        }
    }
    edges.remove("lib");
    Graph { edges }
}

/// A cycle in the module graph, if any (as a path a → b → … → a).
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &Graph,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in g.edges.get(n).map(|e| e.keys()).into_iter().flatten() {
            match state.get(m.as_str()) {
                Some(1) => {
                    let at = stack.iter().position(|s| s == m).unwrap_or(0);
                    let mut c = stack[at..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.edges.keys() {
        if !state.contains_key(n) {
            if let Some(c) = visit(n, g, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn module_imports_have_no_cycle_and_go_down_the_layers() {
    let g = build_graph();
    let layers = layer_table();
    let mut problems = Vec::new();
    println!("top-level module imports (layer from ARCHITECTURE.md):");
    for (m, deps) in &g.edges {
        let Some(&lm) = layers.get(m) else {
            problems.push(format!(
                "module `{m}` is not in the layer table of ARCHITECTURE.md"
            ));
            continue;
        };
        let list: Vec<String> = deps
            .keys()
            .map(|d| {
                format!(
                    "{d}({})",
                    layers.get(d).map_or("?".into(), |l| l.to_string())
                )
            })
            .collect();
        println!("  {m}({lm}) -> {}", list.join(" "));
        for (d, files) in deps {
            let ld = layers.get(d).copied().unwrap_or(u32::MAX);
            if ld <= lm {
                continue;
            }
            for f in files {
                if EXCEPTIONS.iter().any(|(ef, em, _)| ef == f && em == d) {
                    println!("    known exception: {f} -> {d}");
                    continue;
                }
                problems.push(format!(
                    "{f}: `{m}` (layer {lm}) imports `{d}` (layer {ld})"
                ));
            }
        }
    }
    // The cycle search leaves out the listed exceptions (they are known, documented cycles).
    let mut acyclic = Graph {
        edges: g.edges.clone(),
    };
    for (m, deps) in acyclic.edges.iter_mut() {
        deps.retain(|d, files| {
            !files.iter().all(|f| {
                EXCEPTIONS
                    .iter()
                    .any(|(ef, em, _)| ef == f && em == d && f.starts_with(&format!("src/{m}")))
            })
        });
    }
    if let Some(c) = find_cycle(&acyclic) {
        problems.push(format!("import cycle: {}", c.join(" -> ")));
    }
    assert!(
        problems.is_empty(),
        "layering problems:\n  {}",
        problems.join("\n  ")
    );
    println!("no cycles, no upward imports outside the listed exceptions");
}

#[test]
fn the_scanner_sees_through_comments_strings_and_groups() {
    let code = code_only(
        "use crate::{a::X, b, c::{d, e}};\n// crate::f\n/* crate::g */ let s = \"crate::h\";\nlet r = r#\"crate::i\"#; let c = '\"'; crate::j::k(); fn x<'a>(y: &'a str) { crate::l::m }",
    );
    let got: Vec<String> = imports(&code, "crate::").into_iter().collect();
    assert_eq!(got, ["a", "b", "c", "j", "l"]);
}
