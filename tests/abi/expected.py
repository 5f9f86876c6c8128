# SPDX-License-Identifier: MIT
"""The ABI facts sidecar must match, transcribed by hand from the public
specifications (OpenHCL sidecar_defs, Hyper-V TLFS) as summarized in
shared/reference/openhcl-abi.md -- NOT derived from protocol/*.yaml.
A change to the YAML that moves any of these fails the conformance test.

STRUCTS: name -> (size, {field: offset}); ENUMS: name -> {value name: value}.
"""

STRUCTS = {
    "control_page": (4096, {
        "index": 0x00, "base_cpu": 0x04, "cpu_count": 0x08, "request_vector": 0x0c,
        "response_cpu": 0x10, "response_vector": 0x14, "needs_attention": 0x18,
        "cpu_status": 0x40,
    }),
    "command_page": (4096, {
        "command": 0x000, "has_error": 0x004, "cpu_context": 0x010,
        "intercept_message": 0x410, "error": 0x510, "request_data": 0x610,
        # OpenHCL: reserved from 0xa10 to the end. Ours (ABI 1.4) puts
        # removed_state at its start (written only at REMOVE, which OpenHCL's
        # clients never read) and keeps the rest reserved.
        "removed_state": 0xa10, "reserved": 0xe00,
    }),
    "cpu_context": (1024, {"gps": 0x000, "fx_state": 0x080, "reserved": 0x280}),
    "command_error": (256, {"len": 0, "buf": 1}),
    "hv_message_header": (16, {"message_type": 0, "payload_size": 4, "flags": 5, "id": 8}),
    "hv_message": (256, {"header": 0, "payload": 16}),
    "hv_x64_segment_register": (16, {"base": 0, "limit": 8, "selector": 12, "attributes": 14}),
    "hv_x64_table_register": (16, {"limit": 6, "base": 8}),
    "hv_x64_intercept_message_header": (40, {
        "vp_index": 0, "instruction_length_and_cr8": 4, "intercept_access_type": 5,
        "execution_state": 6, "cs_segment": 8, "rip": 24, "rflags": 32,
    }),
    "hv_x64_io_port_intercept_message": (128, {
        "port_number": 40, "access_info": 42, "instruction_byte_count": 43, "rax": 48,
        "instruction_bytes": 56, "ds_segment": 72, "es_segment": 88, "rcx": 104,
        "rsi": 112, "rdi": 120,
    }),
    "hv_x64_memory_intercept_message": (80, {
        "cache_type": 40, "instruction_byte_count": 44, "memory_access_info": 45,
        "tpr_priority": 46, "guest_virtual_address": 48, "guest_physical_address": 56,
        "instruction_bytes": 64,
    }),
    "hv_x64_msr_intercept_message": (64, {"msr_number": 40, "rdx": 48, "rax": 56}),
    "hv_x64_cpuid_intercept_message": (104, {
        "rax": 40, "rcx": 48, "rdx": 56, "rbx": 64, "default_result_rax": 72,
        "default_result_rcx": 80, "default_result_rdx": 88, "default_result_rbx": 96,
    }),
    "hv_x64_exception_intercept_message": (240, {
        "exception_vector": 40, "exception_info": 42, "instruction_byte_count": 43,
        "error_code": 44, "exception_parameter": 48, "instruction_bytes": 64,
        "ds_segment": 80, "ss_segment": 96, "rax": 112, "rsp": 144, "r15": 232,
    }),
    "hv_register_assoc": (32, {"name": 0, "value": 16}),
    "get_set_vp_registers_request": (1008, {
        "count": 0, "target_vtl": 2, "status": 4, "regs": 16,
    }),
    "translate_gva_request": (16, {"gvn": 0, "control_flags": 8}),
    "translate_gva_output": (64, {"translation_result": 0, "event_info": 16, "gpa_page": 48}),
    "translate_gva_response": (80, {"status": 0, "output": 16}),
    "run_vp_response": (1, {"intercept": 0}),
}

ENUMS = {
    "cpu_status": {"removed": 0, "idle": 1, "run": 2, "stop": 3, "remove": 4},
    "command": {"none": 0, "run_vp": 1, "get_vp_registers": 2, "set_vp_registers": 3,
                "translate_gva": 4},
    "hv_message_type": {
        "unmapped_gpa": 0x80000000, "gpa_intercept": 0x80000001,
        "unrecoverable_exception": 0x80000021, "x64_io_port_intercept": 0x80010000,
        "msr_intercept": 0x80010001, "x64_cpuid_intercept": 0x80010002,
        "exception_intercept": 0x80010003, "x64_halt": 0x80010007,
    },
    "hv_status": {
        "success": 0, "invalid_hypercall_code": 0x2, "invalid_hypercall_input": 0x3,
        "invalid_alignment": 0x4, "invalid_parameter": 0x5, "access_denied": 0x6,
        "invalid_vp_state": 0x15, "feature_unavailable": 0x1e,
    },
    "translate_gva_result_code": {
        "success": 0, "page_not_present": 1, "privilege_violation": 2,
        "invalid_page_table_flags": 3, "gpa_unmapped": 4,
    },
    "hv_register_name": {
        "rax": 0x00020000, "rcx": 0x00020001, "rsp": 0x00020004, "r15": 0x0002000f,
        "rip": 0x00020010, "rflags": 0x00020011, "xmm0": 0x00030000, "xmm15": 0x0003000f,
        "cr0": 0x00040000, "cr2": 0x00040001, "cr3": 0x00040002, "cr4": 0x00040003,
        "cs": 0x00060001, "ss": 0x00060002, "idtr": 0x00070000, "gdtr": 0x00070001,
        "efer": 0x00080001,
    },
}

CONSTANTS = {"page_size": 4096, "request_data_size": 1024, "max_get_set_vp_registers": 31,
             "max_node_cpus": 4032, "max_nodes": 128, "request_vector": 0x20}
