//! The functions a pattern is made of, and the cargo package and binary that build each.

use routes::Group;
use stack::Pattern;

/// A Lambda function: the lith, or the FAT function of one route group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Lith,
    Fat(Group),
}

impl Function {
    /// The function of a package name the deployment model uses: a route group's name, or `lith`.
    pub fn named(name: &str) -> Option<Function> {
        match name {
            "lith" => Some(Function::Lith),
            other => Group::from_name(other).map(Function::Fat),
        }
    }

    /// The function table. Function names are also directory names under
    /// `<target>/lambda/<architecture>/`; the binary of function `<name>` is `catalog-<name>` (see
    /// the lambda crates' `[[bin]]`s).
    ///
    /// | function                       | package       | binary            |
    /// |--------------------------------|---------------|-------------------|
    /// | `lith`                         | `lambda-lith` | `catalog-lith`    |
    /// | `<group>` for each route group | `lambda-fat`  | `catalog-<group>` |
    pub fn name(self) -> &'static str {
        match self {
            Function::Lith => "lith",
            Function::Fat(group) => group.name(),
        }
    }

    /// The cargo package that builds this function's binary.
    pub fn package(self) -> &'static str {
        match self {
            Function::Lith => "lambda-lith",
            Function::Fat(_) => "lambda-fat",
        }
    }

    /// The cargo binary target of this function.
    pub fn bin(self) -> String {
        format!("catalog-{}", self.name())
    }
}

/// The functions the patterns are made of, as the deployment model says, each once.
pub fn functions_of(patterns: &[Pattern]) -> Vec<Function> {
    let mut functions = Vec::new();
    for name in patterns.iter().flat_map(|pattern| pattern.functions()) {
        let function = Function::named(name)
            .unwrap_or_else(|| panic!("the deployment model names an unknown function {name}"));
        if !functions.contains(&function) {
            functions.push(function);
        }
    }
    functions
}
