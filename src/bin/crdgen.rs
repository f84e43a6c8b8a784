//! Prints the CustomResourceDefinitions as YAML; `crds/` is this output, checked by a test.

fn main() {
    print!("{}", vaultsync::crd::render_crds());
}
