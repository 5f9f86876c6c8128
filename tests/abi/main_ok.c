/* SPDX-License-Identifier: MIT */
int sidecar_abi_expect_c(void);
int main(void) { return sidecar_abi_expect_c(); }
