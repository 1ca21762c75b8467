//! A scalar autograd engine in the spirit of micrograd: every operation records its inputs on a
//! tape, and `backward` walks the tape in reverse to apply the chain rule.
//!
//! Values live in an arena (the tape); a [`Var`] is an index into it. Every node is appended after
//! its inputs, so the tape's order is already a topological order of the graph: walking it
//! backwards visits every node after all the nodes that use it. A node used twice (a shared
//! sub-expression) receives the sum of the gradients flowing back from each use.

use wb_core::{MlError, Result};

/// A handle to a value on the tape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var(pub usize);

/// How a node was computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Leaf,
    Add(Var, Var),
    Sub(Var, Var),
    Mul(Var, Var),
    Div(Var, Var),
    PowI(Var, i32),
    Exp(Var),
    Ln(Var),
    Tanh(Var),
    Relu(Var),
}

#[derive(Debug, Clone, PartialEq)]
struct Node {
    value: f64,
    grad: f64,
    op: Op,
}

/// The tape: every value computed, in order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tape {
    nodes: Vec<Node>,
}

impl Tape {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, value: f64, op: Op) -> Var {
        self.nodes.push(Node {
            value,
            grad: 0.0,
            op,
        });
        Var(self.nodes.len() - 1)
    }

    pub fn leaf(&mut self, value: f64) -> Var {
        self.push(value, Op::Leaf)
    }
    pub fn value(&self, v: Var) -> f64 {
        self.nodes[v.0].value
    }
    /// ∂output/∂v after `backward(output)`.
    pub fn grad(&self, v: Var) -> f64 {
        self.nodes[v.0].grad
    }
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn add(&mut self, a: Var, b: Var) -> Var {
        self.push(self.value(a) + self.value(b), Op::Add(a, b))
    }
    pub fn sub(&mut self, a: Var, b: Var) -> Var {
        self.push(self.value(a) - self.value(b), Op::Sub(a, b))
    }
    pub fn mul(&mut self, a: Var, b: Var) -> Var {
        self.push(self.value(a) * self.value(b), Op::Mul(a, b))
    }
    pub fn div(&mut self, a: Var, b: Var) -> Var {
        self.push(self.value(a) / self.value(b), Op::Div(a, b))
    }
    pub fn powi(&mut self, a: Var, n: i32) -> Var {
        self.push(self.value(a).powi(n), Op::PowI(a, n))
    }
    pub fn exp(&mut self, a: Var) -> Var {
        self.push(self.value(a).exp(), Op::Exp(a))
    }
    pub fn ln(&mut self, a: Var) -> Var {
        self.push(self.value(a).ln(), Op::Ln(a))
    }
    pub fn tanh(&mut self, a: Var) -> Var {
        self.push(self.value(a).tanh(), Op::Tanh(a))
    }
    pub fn relu(&mut self, a: Var) -> Var {
        self.push(self.value(a).max(0.0), Op::Relu(a))
    }

    // ANCHOR: backward
    /// Reverse-mode differentiation of `output` with respect to every node: set ∂out/∂out = 1,
    /// then, from the last node back to the first, add each node's local derivative times its
    /// gradient into the gradients of its inputs. A NaN or infinite value anywhere on the tape is
    /// an error naming the first node where it appeared.
    pub fn backward(&mut self, output: Var) -> Result<()> {
        if output.0 >= self.nodes.len() {
            return Err(MlError::InvalidArgument {
                arg: "output".into(),
                detail: format!("node {} is not on the tape", output.0),
            });
        }
        if let Some((i, n)) = self
            .nodes
            .iter()
            .enumerate()
            .take(output.0 + 1)
            .find(|(_, n)| !n.value.is_finite())
        {
            return Err(MlError::NonFinite {
                arg: format!("tape node {i} ({:?})", n.op),
                index: i.to_string(),
                value: n.value,
            });
        }
        // BEGIN SOLUTION backward
        for n in &mut self.nodes {
            n.grad = 0.0;
        }
        self.nodes[output.0].grad = 1.0;
        for i in (0..=output.0).rev() {
            let (g, value, op) = (self.nodes[i].grad, self.nodes[i].value, self.nodes[i].op);
            let v = |x: Var| self.nodes[x.0].value;
            // (input, ∂node/∂input) for each input of the node
            let local: [(Option<Var>, f64); 2] = match op {
                Op::Leaf => [(None, 0.0), (None, 0.0)],
                Op::Add(a, b) => [(Some(a), 1.0), (Some(b), 1.0)],
                Op::Sub(a, b) => [(Some(a), 1.0), (Some(b), -1.0)],
                Op::Mul(a, b) => [(Some(a), v(b)), (Some(b), v(a))],
                Op::Div(a, b) => [(Some(a), 1.0 / v(b)), (Some(b), -v(a) / (v(b) * v(b)))],
                Op::PowI(a, k) => [(Some(a), k as f64 * v(a).powi(k - 1)), (None, 0.0)],
                Op::Exp(a) => [(Some(a), value), (None, 0.0)],
                Op::Ln(a) => [(Some(a), 1.0 / v(a)), (None, 0.0)],
                Op::Tanh(a) => [(Some(a), 1.0 - value * value), (None, 0.0)],
                Op::Relu(a) => [(Some(a), if value > 0.0 { 1.0 } else { 0.0 }), (None, 0.0)],
            };
            for (input, d) in local {
                if let Some(x) = input {
                    self.nodes[x.0].grad += g * d; // += : a node used twice sums both paths
                }
            }
        }
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: backward
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_rule_by_hand() {
        // f = (a·b + a)², a = 2, b = 3: f = 64; ∂f/∂a = 2(ab + a)(b + 1) = 64; ∂f/∂b = 2(ab + a)a = 32
        let mut t = Tape::new();
        let (a, b) = (t.leaf(2.0), t.leaf(3.0));
        let ab = t.mul(a, b);
        let s = t.add(ab, a);
        let f = t.powi(s, 2);
        t.backward(f).unwrap();
        assert_eq!((t.value(f), t.grad(a), t.grad(b)), (64.0, 64.0, 32.0));
        let z = t.leaf(0.0);
        let bad = t.ln(z);
        assert!(t.backward(bad).is_err());
    }
}
