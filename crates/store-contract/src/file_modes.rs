//! File modes that bind in tests run as root: a store's tests of an unwritable file mean nothing
//! while the process may override modes, as root may (Lambda runs functions as a user of their
//! own). Linux only; the crates whose tests use it run there.

/// Takes CAP_DAC_OVERRIDE from the calling thread and every thread and process it starts from
/// now on, so that file modes bind even when the tests run as root (Lambda runs functions as a
/// user of their own). Capabilities are per thread: the rest of the test process keeps them.
pub fn without_root_file_override() {
    const PR_CAPBSET_DROP: i32 = 24;
    const CAP_DAC_OVERRIDE: u32 = 1;
    const VERSION_3: u32 = 0x2008_0522;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    unsafe extern "C" {
        fn prctl(option: i32, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> i32;
        fn capget(header: *mut Header, data: *mut Data) -> i32;
        fn capset(header: *mut Header, data: *const Data) -> i32;
    }
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    let overrides = 1u32 << CAP_DAC_OVERRIDE;
    // SAFETY: the header and the two data words are the layout capget and capset take for
    // version 3; pid 0 is the calling thread.
    unsafe {
        assert_eq!(
            capget(&mut header, data.as_mut_ptr()),
            0,
            "capget: {}",
            std::io::Error::last_os_error()
        );
        if data[0].effective & overrides == 0 {
            return; // Not root, or root without the override: modes bind already.
        }
        // Out of the bounding set too, or a root process started from here gets it back.
        assert_eq!(
            prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE.into(), 0, 0, 0),
            0,
            "dropping CAP_DAC_OVERRIDE: {}",
            std::io::Error::last_os_error()
        );
        data[0].effective &= !overrides;
        data[0].permitted &= !overrides;
        data[0].inheritable &= !overrides;
        assert_eq!(
            capset(&mut header, data.as_ptr()),
            0,
            "capset: {}",
            std::io::Error::last_os_error()
        );
    }
}
