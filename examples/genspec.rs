//! Writes a synthetic spec for benchmarks: `genspec USERS GROUPS POLICIES`.

#[path = "../benches/synthetic.rs"]
mod synthetic;

fn main() {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("USERS GROUPS POLICIES are numbers"))
        .collect();
    let [users, groups, policies] = numbers[..] else {
        eprintln!("usage: genspec USERS GROUPS POLICIES");
        std::process::exit(2);
    };
    print!("{}", synthetic::spec(users, groups, policies));
}
