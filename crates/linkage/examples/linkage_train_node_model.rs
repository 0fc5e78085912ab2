//! Trains the model a node scores with until it has one of its own (`models/node.json`): on
//! 100,000 generated records, unsupervised, exactly as `enlace link` trains on its input.
//!
//! cargo run --release -p enlace-linkage --example linkage_train_node_model > crates/linkage/models/node.json

use enlace_linkage::generate::{GenerateOptions, generate};
use enlace_linkage::link::{Dataset, LinkOptions, run};
use enlace_linkage::person::Schema;

fn main() {
    let recs = generate(&GenerateOptions { records: 100_000, seed: 2016, ..Default::default() });
    let mut data = Dataset::new(Schema::standard());
    for r in &recs {
        data.push(&r.person);
    }
    let model = run(&data, &LinkOptions::default(), None, &()).expect("training on generated data").model;
    println!("{}", model.to_json());
}
