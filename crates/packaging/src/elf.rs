//! Which machine an ELF executable is for, read from its header, so that a package built for
//! the wrong architecture is caught here rather than by Lambda's exec format error at the first
//! request.

use stack::env::Architecture;

/// `e_machine` values (System V ABI): x86-64 and AArch64.
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// The architecture a 64-bit little-endian ELF executable runs on, or what it is instead.
pub fn machine(bytes: &[u8]) -> Result<Architecture, String> {
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    match u16::from_le_bytes([bytes[18], bytes[19]]) {
        EM_X86_64 => Ok(Architecture::X86_64),
        EM_AARCH64 => Ok(Architecture::Arm64),
        other => Err(format!("ELF machine {other}")),
    }
}

/// `Ok` when `bytes` is an executable for `architecture`; otherwise what it is.
pub fn check(bytes: &[u8], architecture: Architecture) -> Result<(), String> {
    match machine(bytes)? {
        found if found == architecture => Ok(()),
        found => Err(format!("built for {}", found.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 20 bytes of an ELF header: magic, class, data, version, padding, type, machine.
    fn header(class: u8, machine: u16) -> Vec<u8> {
        let mut bytes = b"\x7fELF".to_vec();
        bytes.extend([class, 1, 1]);
        bytes.extend([0; 9]);
        bytes.extend(2u16.to_le_bytes());
        bytes.extend(machine.to_le_bytes());
        bytes
    }

    #[test]
    fn reads_the_machine_of_both_architectures() {
        assert_eq!(machine(&header(2, 62)), Ok(Architecture::X86_64));
        assert_eq!(machine(&header(2, 183)), Ok(Architecture::Arm64));
        assert_eq!(
            check(&header(2, 183), Architecture::X86_64),
            Err("built for arm64".into())
        );
    }

    #[test]
    fn anything_else_is_named() {
        assert_eq!(machine(b"#!/bin/sh\n"), Err("not an ELF file".into()));
        assert_eq!(
            machine(&header(1, 3)),
            Err("not a 64-bit little-endian ELF file".into())
        );
        assert_eq!(machine(&header(2, 40)), Err("ELF machine 40".into()));
    }

    #[test]
    fn this_test_binary_is_for_the_host() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(machine(&me).ok(), crate::host_architecture());
    }
}
