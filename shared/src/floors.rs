//! The crate's floors, checked from its own sources: the domain modules import no AWS SDK crate
//! and no adapter, configuration parsing is imported by none of the modules it configures, the
//! shared primitives import no other module, and the domain's imports form no circle. Test modules
//! are left out: a test may exercise modules together.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Crates only the adapters (`aws/`) and test support may import.
const SDK_CRATES: &[&str] = &["aws_sdk_", "aws_smithy_", "aws_config", "aws_types"];

/// Modules that are not the domain: the adapters, and this check.
const NOT_DOMAIN: &[&str] = &["aws", "floors"];

/// The source of a file without its test modules and comments.
fn product_code(source: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let mut code = String::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index].trim_start();
        let next = lines.get(index + 1).map_or("", |l| l.trim_start());
        if line.starts_with("#[cfg(test)]") && next.starts_with("mod ") {
            break;
        }
        if !line.starts_with("//") {
            code.push_str(lines[index]);
            code.push('\n');
        }
        index += 1;
    }
    code
}

/// The SDK crates `code` names.
fn sdk_imports(code: &str) -> Vec<&'static str> {
    SDK_CRATES
        .iter()
        .copied()
        .filter(|krate| code.contains(krate))
        .collect()
}

/// The crate's top-level modules `code` names through `crate::`.
fn module_imports(code: &str) -> BTreeSet<String> {
    code.match_indices("crate::")
        .map(|(at, token)| {
            code[at + token.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Every module of the crate with the modules its product code imports.
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(&root).unwrap();
            let first = relative.components().next().unwrap();
            let module = first.as_os_str().to_str().unwrap().trim_end_matches(".rs");
            if module == "lib" {
                continue;
            }
            let code = product_code(&std::fs::read_to_string(&path).unwrap());
            let mut imports = module_imports(&code);
            imports.remove(module);
            if !sdk_imports(&code).is_empty() {
                imports.insert("aws sdk".to_owned());
            }
            graph.entry(module.to_owned()).or_default().extend(imports);
        }
    }
    graph
}

fn domain(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<&str, &BTreeSet<String>> {
    graph
        .iter()
        .filter(|(module, _)| !NOT_DOMAIN.contains(&module.as_str()))
        .map(|(module, imports)| (module.as_str(), imports))
        .collect()
}

/// A circle through the graph's modules, if there is one.
fn circle(graph: &BTreeMap<&str, &BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        graph: &BTreeMap<&str, &BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|m| m == module) {
            let mut found = path[start..].to_vec();
            found.push(module.to_owned());
            return Some(found);
        }
        if !done.insert(module.to_owned()) {
            return None;
        }
        path.push(module.to_owned());
        for next in graph
            .get(module)
            .into_iter()
            .flat_map(|imports| imports.iter())
        {
            if graph.contains_key(next.as_str()) {
                if let Some(found) = visit(next, graph, path, done) {
                    return Some(found);
                }
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_domain_module_imports_an_aws_sdk_crate_or_an_adapter() {
    let graph = import_graph();
    for (module, imports) in domain(&graph) {
        assert!(
            !imports.contains("aws sdk") && !imports.contains("aws"),
            "the domain module `{module}` imports the AWS SDK or an adapter: {imports:?}"
        );
    }
    assert!(
        graph["aws"].contains("aws sdk"),
        "the adapters were not read"
    );
}

#[test]
fn configuration_is_imported_by_no_domain_module_and_primitives_import_none() {
    let graph = import_graph();
    for (module, imports) in domain(&graph) {
        assert!(
            !imports.contains("config"),
            "`{module}` imports the configuration that configures it"
        );
    }
    assert_eq!(graph["primitives"], BTreeSet::new());
}

#[test]
fn the_domain_has_no_circle() {
    let graph = import_graph();
    assert_eq!(circle(&domain(&graph)), None);
}

#[test]
fn the_checks_see_sdk_imports_and_circles() {
    let code = product_code(
        "use aws_sdk_dynamodb::Client;\nuse crate::event::X;\n// crate::config\n#[cfg(test)]\nmod tests {\n    use crate::routes::Y;\n}\n",
    );
    assert_eq!(sdk_imports(&code), vec!["aws_sdk_"]);
    assert_eq!(module_imports(&code), BTreeSet::from(["event".to_owned()]));
    let config = BTreeSet::from(["routes".to_owned()]);
    let routes = BTreeSet::from(["event".to_owned()]);
    let event = BTreeSet::from(["config".to_owned()]);
    let graph = BTreeMap::from([("config", &config), ("routes", &routes), ("event", &event)]);
    assert_eq!(
        circle(&graph),
        Some(vec![
            "config".into(),
            "routes".into(),
            "event".into(),
            "config".into()
        ])
    );
}
