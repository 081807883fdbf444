fn main() {
    eprintln!("vigil: under construction");
}
