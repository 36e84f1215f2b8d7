//! The functions a pattern is made of, and the cargo package and binary that build each.

use routes::Group;
use stack::Pattern;

/// A Lambda function: the lith, the FAT function of one route group, or the allow-list janitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Lith,
    Fat(Group),
    Janitor,
}

impl Function {
    /// The function of a package name the deployment model uses: a route group's name, or `lith`.
    pub fn named(name: &str) -> Option<Function> {
        match name {
            "lith" => Some(Function::Lith),
            stack::JANITOR => Some(Function::Janitor),
            other => Group::from_name(other).map(Function::Fat),
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
    /// | `janitor`                      | `lambda-janitor` | `catalog-janitor` |
    pub fn name(self) -> &'static str {
        match self {
            Function::Lith => "lith",
            Function::Fat(group) => group.name(),
            Function::Janitor => stack::JANITOR,
        }
    }

    /// The cargo package that builds this function's binary.
    pub fn package(self) -> &'static str {
        match self {
            Function::Lith => "lambda-lith",
            Function::Fat(_) => "lambda-fat",
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
