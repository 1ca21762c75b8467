fn main() {
    println!("{}", polars::prelude::df!("a" => [1, 2]).unwrap());
}
