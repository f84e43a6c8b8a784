//! Prints the CustomResourceDefinitions as YAML; `crds/` is this output, checked by a test.
#![forbid(unsafe_code)]

fn main() {
    print!("{}", vaultsync::crd::render_crds());
}
