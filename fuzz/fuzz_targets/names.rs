//! Name normalisation: the domain's name check and folding, the linkage's folding, word
//! lists and full-name splitter take any text without panicking; folding is idempotent.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    let _ = enlace_domain::person::Name::parse(s);
    let f = enlace_domain::text::fold(s);
    assert_eq!(enlace_domain::text::fold(&f), f, "folding twice is folding once");
    let l = enlace_linkage::fold::fold(s);
    assert_eq!(enlace_linkage::fold::fold(&l), l);
    let _ = enlace_linkage::names::given_words(&[s]);
    let _ = enlace_linkage::names::surname_words(&[s, s]);
    let _ = enlace_linkage::names::split_full_name(s);
    let _ = enlace_domain::network::search_terms(s);
});
