//! The functions a pattern is made of, and the cargo package and binary that build each.

use routes::{Group, Operation, ROUTES};
use stack::Pattern;

/// A Lambda function: the lith, the FAT function of one route group, the single-purpose
/// function of one route, or the allow-list janitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Lith,
    Fat(Group),
    Single(Operation),
    Janitor,
}

impl Function {
    /// The function of a package name the deployment model uses: `lith`, a route group's name,
    /// an operation's slug, or the janitor's.
    pub fn named(name: &str) -> Option<Function> {
        match name {
            "lith" => Some(Function::Lith),
            stack::JANITOR => Some(Function::Janitor),
            other => Group::from_name(other).map(Function::Fat).or_else(|| {
                ROUTES
                    .iter()
                    .find(|route| route.operation.slug() == other)
                    .map(|route| Function::Single(route.operation))
            }),
        }
    }

    /// The function table. Function names are also directory names under
    /// `<target>/lambda/<architecture>/`; the binary of function `<name>` is `catalog-<name>` (see
    /// the lambda crates' `[[bin]]`s).
    ///
    /// | function                       | package       | binary            |
    /// |--------------------------------|---------------|-------------------|
    /// | `lith`                         | `lambda-lith`    | `catalog-lith`    |
    /// | `<group>` for each route group | `lambda-fat`     | `catalog-<group>` |
    /// | `<slug>` for each route        | `lambda-single`  | `catalog-<slug>`  |
    /// | `janitor`                      | `lambda-janitor` | `catalog-janitor` |
    ///
    /// (A route's slug is its operation id with dashes: `list-projects`.)
    pub fn name(self) -> &'static str {
        match self {
            Function::Lith => "lith",
            Function::Fat(group) => group.name(),
            Function::Single(operation) => operation.slug(),
            Function::Janitor => stack::JANITOR,
        }
    }

    /// The cargo package that builds this function's binary.
    pub fn package(self) -> &'static str {
        match self {
            Function::Lith => "lambda-lith",
            Function::Fat(_) => "lambda-fat",
            Function::Single(_) => "lambda-single",
            Function::Janitor => "lambda-janitor",
        }
    }

    /// The cargo binary target of this function.
    pub fn bin(self) -> String {
        format!("catalog-{}", self.name())
    }
}

/// The functions the patterns' deployments are made of (the janitor included), as the deployment
/// model says, each once.
pub fn functions_of(patterns: &[Pattern]) -> Vec<Function> {
    named(patterns.iter().flat_map(|pattern| pattern.packages()))
}

/// The functions that serve the patterns' routes (what the local stack runs), each once.
pub fn route_functions_of(patterns: &[Pattern]) -> Vec<Function> {
    named(patterns.iter().flat_map(|pattern| pattern.functions()))
}

fn named(names: impl Iterator<Item = &'static str>) -> Vec<Function> {
    let mut functions = Vec::new();
    for name in names {
        let function = Function::named(name)
            .unwrap_or_else(|| panic!("the deployment model names an unknown function {name}"));
        if !functions.contains(&function) {
            functions.push(function);
        }
    }
    functions
}
