//! The allow-list's CIDR parser (`waf::Cidr`), on any text: it never panics, and whatever it
//! accepts prints as it parses and contains its own network address.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(cidr) = text.parse::<waf::Cidr>() else {
        return;
    };
    let printed = cidr.to_string();
    assert_eq!(printed.parse::<waf::Cidr>().ok(), Some(cidr), "{text:?}");
    assert!(cidr.contains(cidr.network()), "{text:?}");
    assert!(
        cidr.prefix_len() <= cidr.version().max_prefix_len(),
        "{text:?}"
    );
});
