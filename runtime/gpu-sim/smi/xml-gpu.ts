/**
 * `nvidia-smi -q -x` for one GPU: the element structure of the captured H100 log
 * (data/h100/nvidia-smi-q.xml, driver 580.159.04, DTD nvsmi_device_v13), with every
 * state value taken from the model. Static elements keep the capture's values (N/A and the like).
 * Generated once from the capture's element paths; test/gpu-sim/nvidia-smi.test.ts holds the
 * paths equal to the capture's.
 */
import { ClockEventReason as R } from "../reasons";
import type { SimProfile } from "../profiles";
import type { SmiGpu } from "./view";

const x = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const watts = (w: number) => `${w.toFixed(2)} W`;
const mhz = (v: number) => `${Math.round(v)} MHz`;
const us = (v: number) => `${Math.round(v)} us`;
const active = (g: SmiGpu, bit: number) => ((g.clockEventReasons & bit) !== 0 ? "Active" : "Not Active");
const pstate = (g: SmiGpu) => (g.shutdown ? "P8" : "P0");
const busHex = (g: SmiGpu) => g.pciBusId.split(":")[1]!;
/** A stable 64-bit "PDI" per GPU, from its UUID. */
const pdi = (uuid: string) => `0x${uuid.replace(/[^0-9a-f]/g, "").slice(0, 16)}`;

/** Supported SM clocks, max down to the idle clock in 15 MHz steps, for each memory clock. */
function supportedClocks(p: SimProfile): string {
  const memClocks = p.product === "h100" ? [p.maxMemClockMHz, 1593] : [p.maxMemClockMHz];
  const graphics: string[] = [];
  for (let c = p.maxSmClockMHz; c >= p.idleClockMHz; c -= p.clockStepMHz) {
    graphics.push(`\t\t\t\t<supported_graphics_clock>${c} MHz</supported_graphics_clock>`);
  }
  return memClocks
    .map((m) => [`\t\t\t<supported_mem_clock>`, `\t\t\t\t<value>${m} MHz</value>`, ...graphics, `\t\t\t</supported_mem_clock>`].join("\n"))
    .join("\n");
}

export function gpuXml(g: SmiGpu, p: SimProfile): string {
  return `\t<gpu id="${g.pciBusId}">
		<product_name>${x(g.name)}</product_name>
		<product_brand>NVIDIA</product_brand>
		<product_architecture>${x(p.architecture)}</product_architecture>
		<display_mode>Requested functionality has been deprecated</display_mode>
		<display_attached>Yes</display_attached>
		<display_active>Disabled</display_active>
		<persistence_mode>Enabled</persistence_mode>
		<addressing_mode>None</addressing_mode>
		<mig_mode>
			<current_mig>${g.migDevices.length > 0 ? "Enabled" : "Disabled"}</current_mig>
			<pending_mig>${g.migDevices.length > 0 ? "Enabled" : "Disabled"}</pending_mig>
		</mig_mode>
		<mig_devices>
			None
		</mig_devices>
		<accounting_mode>Disabled</accounting_mode>
		<accounting_mode_buffer_size>4000</accounting_mode_buffer_size>
		<driver_model>
			<current_dm>N/A</current_dm>
			<pending_dm>N/A</pending_dm>
		</driver_model>
		<serial>${g.serial}</serial>
		<uuid>${g.uuid}</uuid>
		<pdi>${pdi(g.uuid)}</pdi>
		<minor_number>${g.minor}</minor_number>
		<vbios_version>${p.vbiosVersion}</vbios_version>
		<multigpu_board>No</multigpu_board>
		<board_id>${`0x${busHex(g).toLowerCase().replace(/^0/, "")}`}</board_id>
		<board_part_number>695-2G520-0200-000</board_part_number>
		<gpu_part_number>2330-885-A1</gpu_part_number>
		<gpu_fru_part_number>N/A</gpu_fru_part_number>
		<platformInfo>
			<chassis_serial_number>N/A</chassis_serial_number>
			<slot_number>N/A</slot_number>
			<tray_index>N/A</tray_index>
			<host_id>N/A</host_id>
			<peer_type>N/A</peer_type>
			<module_id>${g.minor + 1}</module_id>
			<gpu_fabric_guid>N/A</gpu_fabric_guid>
		</platformInfo>
		<inforom_version>
			<img_version>G520.0200.00.05</img_version>
			<oem_object>2.1</oem_object>
			<ecc_object>7.16</ecc_object>
			<pwr_object>N/A</pwr_object>
		</inforom_version>
		<inforom_bbx_flush>
			<latest_timestamp>N/A</latest_timestamp>
			<latest_duration>N/A</latest_duration>
		</inforom_bbx_flush>
		<gpu_operation_mode>
			<current_gom>N/A</current_gom>
			<pending_gom>N/A</pending_gom>
		</gpu_operation_mode>
		<c2c_mode>Disabled</c2c_mode>
		<gpu_virtualization_mode>
			<virtualization_mode>Pass-Through</virtualization_mode>
			<host_vgpu_mode>N/A</host_vgpu_mode>
			<vgpu_heterogeneous_mode>N/A</vgpu_heterogeneous_mode>
		</gpu_virtualization_mode>
		<gpu_recovery_action>None</gpu_recovery_action>
		<gsp_firmware_version>580.159.04</gsp_firmware_version>
		<ibmnpu>
			<relaxed_ordering_mode>N/A</relaxed_ordering_mode>
		</ibmnpu>
		<pci>
			<pci_bus>${busHex(g)}</pci_bus>
			<pci_device>06</pci_device>
			<pci_domain>0000</pci_domain>
			<pci_base_class>3</pci_base_class>
			<pci_sub_class>2</pci_sub_class>
			<pci_device_id>${p.pciDeviceId}</pci_device_id>
			<pci_bus_id>${g.pciBusId}</pci_bus_id>
			<pci_sub_system_id>${p.pciSubSystemId}</pci_sub_system_id>
			<pci_gpu_link_info>
				<pcie_gen>
					<max_link_gen>5</max_link_gen>
					<current_link_gen>5</current_link_gen>
					<device_current_link_gen>5</device_current_link_gen>
					<max_device_link_gen>5</max_device_link_gen>
					<max_host_link_gen>N/A</max_host_link_gen>
				</pcie_gen>
				<link_widths>
					<max_link_width>16x</max_link_width>
					<current_link_width>16x</current_link_width>
				</link_widths>
			</pci_gpu_link_info>
			<pci_bridge_chip>
				<bridge_chip_type>N/A</bridge_chip_type>
				<bridge_chip_fw>N/A</bridge_chip_fw>
			</pci_bridge_chip>
			<replay_counter>0</replay_counter>
			<replay_rollover_counter>0</replay_rollover_counter>
			<tx_util>959 KB/s</tx_util>
			<rx_util>555 KB/s</rx_util>
			<atomic_caps_outbound>N/A</atomic_caps_outbound>
			<atomic_caps_inbound>N/A</atomic_caps_inbound>
		</pci>
		<fan_speed>N/A</fan_speed>
		<performance_state>${pstate(g)}</performance_state>
		<clocks_event_reasons>
			<clocks_event_reason_gpu_idle>${active(g, R.GpuIdle)}</clocks_event_reason_gpu_idle>
			<clocks_event_reason_applications_clocks_setting>${active(g, R.ApplicationsClocksSetting)}</clocks_event_reason_applications_clocks_setting>
			<clocks_event_reason_sw_power_cap>${active(g, R.SwPowerCap)}</clocks_event_reason_sw_power_cap>
			<clocks_event_reason_hw_slowdown>${active(g, R.HwSlowdown)}</clocks_event_reason_hw_slowdown>
			<clocks_event_reason_hw_thermal_slowdown>${active(g, R.HwThermalSlowdown)}</clocks_event_reason_hw_thermal_slowdown>
			<clocks_event_reason_hw_power_brake_slowdown>${active(g, R.HwPowerBrakeSlowdown)}</clocks_event_reason_hw_power_brake_slowdown>
			<clocks_event_reason_sync_boost>${active(g, R.SyncBoost)}</clocks_event_reason_sync_boost>
			<clocks_event_reason_sw_thermal_slowdown>${active(g, R.SwThermalSlowdown)}</clocks_event_reason_sw_thermal_slowdown>
			<clocks_event_reason_display_clocks_setting>${active(g, R.DisplayClockSetting)}</clocks_event_reason_display_clocks_setting>
		</clocks_event_reasons>
		<clocks_event_reasons_counters>
			<clocks_event_reasons_counters_sw_power_cap>${us(g.violationUs.powerCap)}</clocks_event_reasons_counters_sw_power_cap>
			<clocks_event_reasons_counters_sync_boost>0 us</clocks_event_reasons_counters_sync_boost>
			<clocks_event_reasons_counters_sw_therm_slowdown>${us(g.violationUs.swThermal)}</clocks_event_reasons_counters_sw_therm_slowdown>
			<clocks_event_reasons_counters_hw_therm_slowdown>${us(g.violationUs.hwThermal)}</clocks_event_reasons_counters_hw_therm_slowdown>
			<clocks_event_reasons_counters_hw_power_brake>0 us</clocks_event_reasons_counters_hw_power_brake>
		</clocks_event_reasons_counters>
		<sparse_operation_mode>Disabled</sparse_operation_mode>
		<fb_memory_usage>
			<total>${`${g.fbTotalMiB} MiB`}</total>
			<reserved>${`${g.fbReservedMiB} MiB`}</reserved>
			<used>${`${g.fbUsedMiB} MiB`}</used>
			<free>${`${g.fbFreeMiB} MiB`}</free>
		</fb_memory_usage>
		<bar1_memory_usage>
			<total>131072 MiB</total>
			<used>1 MiB</used>
			<free>131071 MiB</free>
		</bar1_memory_usage>
		<cc_protected_memory_usage>
			<total>0 MiB</total>
			<used>0 MiB</used>
			<free>0 MiB</free>
		</cc_protected_memory_usage>
		<compute_mode>Default</compute_mode>
		<utilization>
			<gpu_util>${`${g.utilizationGpu} %`}</gpu_util>
			<memory_util>${`${g.utilizationMemory} %`}</memory_util>
			<encoder_util>0 %</encoder_util>
			<decoder_util>0 %</decoder_util>
			<jpeg_util>0 %</jpeg_util>
			<ofa_util>0 %</ofa_util>
		</utilization>
		<encoder_stats>
			<session_count>0</session_count>
			<average_fps>0</average_fps>
			<average_latency>0</average_latency>
		</encoder_stats>
		<fbc_stats>
			<session_count>0</session_count>
			<average_fps>0</average_fps>
			<average_latency>0</average_latency>
		</fbc_stats>
		<dram_encryption_mode>
			<current_dram_encryption>N/A</current_dram_encryption>
			<pending_dram_encryption>N/A</pending_dram_encryption>
		</dram_encryption_mode>
		<ecc_mode>
			<current_ecc>Enabled</current_ecc>
			<pending_ecc>Enabled</pending_ecc>
		</ecc_mode>
		<ecc_errors>
			<volatile>
				<sram_correctable>0</sram_correctable>
				<sram_uncorrectable_parity>0</sram_uncorrectable_parity>
				<sram_uncorrectable_secded>0</sram_uncorrectable_secded>
				<dram_correctable>0</dram_correctable>
				<dram_uncorrectable>0</dram_uncorrectable>
			</volatile>
			<aggregate>
				<sram_correctable>0</sram_correctable>
				<sram_uncorrectable_parity>0</sram_uncorrectable_parity>
				<sram_uncorrectable_secded>0</sram_uncorrectable_secded>
				<dram_correctable>0</dram_correctable>
				<dram_uncorrectable>0</dram_uncorrectable>
				<sram_threshold_exceeded>No</sram_threshold_exceeded>
			</aggregate>
			<aggregate_uncorrectable_sram_sources>
				<sram_l2>0</sram_l2>
				<sram_sm>0</sram_sm>
				<sram_microcontroller>0</sram_microcontroller>
				<sram_pcie>0</sram_pcie>
				<sram_other>0</sram_other>
			</aggregate_uncorrectable_sram_sources>
			<channel_repair_pending>No</channel_repair_pending>
			<tpc_repair_pending>No</tpc_repair_pending>
			<unrepairable_memory>No</unrepairable_memory>
		</ecc_errors>
		<retired_pages>
			<multiple_single_bit_retirement>
				<retired_count>N/A</retired_count>
				<retired_pagelist>N/A</retired_pagelist>
			</multiple_single_bit_retirement>
			<double_bit_retirement>
				<retired_count>N/A</retired_count>
				<retired_pagelist>N/A</retired_pagelist>
			</double_bit_retirement>
			<pending_blacklist>N/A</pending_blacklist>
			<pending_retirement>N/A</pending_retirement>
		</retired_pages>
		<remapped_rows>
			<remapped_row_corr>0</remapped_row_corr>
			<remapped_row_corr_inactive>0</remapped_row_corr_inactive>
			<remapped_row_unc>0</remapped_row_unc>
			<remapped_row_unc_inactive>0</remapped_row_unc_inactive>
			<remapped_row_pending>No</remapped_row_pending>
			<remapped_row_failure>No</remapped_row_failure>
			<row_remapper_histogram>
				<row_remapper_histogram_max>2560 bank(s)</row_remapper_histogram_max>
				<row_remapper_histogram_high>0 bank(s)</row_remapper_histogram_high>
				<row_remapper_histogram_partial>0 bank(s)</row_remapper_histogram_partial>
				<row_remapper_histogram_low>0 bank(s)</row_remapper_histogram_low>
				<row_remapper_histogram_none>0 bank(s)</row_remapper_histogram_none>
			</row_remapper_histogram>
		</remapped_rows>
		<temperature>
			<gpu_temp>${`${g.gpuTempC} C`}</gpu_temp>
			<gpu_temp_tlimit>${`${p.temps.maxOperatingC - g.gpuTempC} C`}</gpu_temp_tlimit>
			<gpu_temp_max_tlimit_threshold>${`${p.temps.maxOperatingC - p.temps.shutdownC} C`}</gpu_temp_max_tlimit_threshold>
			<gpu_temp_slow_tlimit_threshold>${`${p.temps.maxOperatingC - p.temps.slowdownC} C`}</gpu_temp_slow_tlimit_threshold>
			<gpu_temp_max_gpu_tlimit_threshold>0 C</gpu_temp_max_gpu_tlimit_threshold>
			<gpu_target_temperature>N/A</gpu_target_temperature>
			<memory_temp>${`${g.memTempC} C`}</memory_temp>
			<gpu_temp_max_mem_tlimit_threshold>0 C</gpu_temp_max_mem_tlimit_threshold>
		</temperature>
		<supported_gpu_target_temp>
			<gpu_target_temp_min>N/A</gpu_target_temp_min>
			<gpu_target_temp_max>N/A</gpu_target_temp_max>
		</supported_gpu_target_temp>
		<gpu_power_readings>
			<power_state>${pstate(g)}</power_state>
			<average_power_draw>${watts(g.powerW)}</average_power_draw>
			<instant_power_draw>${watts(g.instantPowerW)}</instant_power_draw>
			<current_power_limit>${watts(g.powerLimitW)}</current_power_limit>
			<requested_power_limit>${watts(g.powerLimitW)}</requested_power_limit>
			<default_power_limit>${watts(p.powerLimitW)}</default_power_limit>
			<min_power_limit>${watts(p.power.minLimitW)}</min_power_limit>
			<max_power_limit>${watts(p.powerLimitW)}</max_power_limit>
		</gpu_power_readings>
		<gpu_memory_power_readings>
			<average_power_draw>31.10 W</average_power_draw>
			<instant_power_draw>N/A</instant_power_draw>
		</gpu_memory_power_readings>
		<module_power_readings>
			<power_state>${pstate(g)}</power_state>
			<average_power_draw>N/A</average_power_draw>
			<instant_power_draw>N/A</instant_power_draw>
			<current_power_limit>N/A</current_power_limit>
			<requested_power_limit>N/A</requested_power_limit>
			<default_power_limit>N/A</default_power_limit>
			<min_power_limit>N/A</min_power_limit>
			<max_power_limit>N/A</max_power_limit>
		</module_power_readings>
		<power_smoothing>N/A</power_smoothing>
		<power_profiles>
			<power_profile_requested_profiles>N/A</power_profile_requested_profiles>
			<power_profile_enforced_profiles>N/A</power_profile_enforced_profiles>
		</power_profiles>
		<clocks>
			<graphics_clock>${mhz(g.smClockMHz)}</graphics_clock>
			<sm_clock>${mhz(g.smClockMHz)}</sm_clock>
			<mem_clock>${mhz(g.memClockMHz)}</mem_clock>
			<video_clock>${mhz(g.videoClockMHz)}</video_clock>
		</clocks>
		<applications_clocks>
			<graphics_clock>${mhz(p.maxSmClockMHz)}</graphics_clock>
			<mem_clock>${mhz(p.maxMemClockMHz)}</mem_clock>
		</applications_clocks>
		<default_applications_clocks>
			<graphics_clock>${mhz(p.maxSmClockMHz)}</graphics_clock>
			<mem_clock>${mhz(p.maxMemClockMHz)}</mem_clock>
		</default_applications_clocks>
		<deferred_clocks>
			<mem_clock>N/A</mem_clock>
		</deferred_clocks>
		<max_clocks>
			<graphics_clock>${mhz(p.maxSmClockMHz)}</graphics_clock>
			<sm_clock>${mhz(p.maxSmClockMHz)}</sm_clock>
			<mem_clock>${mhz(p.maxMemClockMHz)}</mem_clock>
			<video_clock>${mhz(p.maxVideoClockMHz)}</video_clock>
		</max_clocks>
		<max_customer_boost_clocks>
			<graphics_clock>${mhz(p.maxSmClockMHz)}</graphics_clock>
		</max_customer_boost_clocks>
		<clock_policy>
			<auto_boost>N/A</auto_boost>
			<auto_boost_default>N/A</auto_boost_default>
		</clock_policy>
		<fabric>
			<state>N/A</state>
			<status>N/A</status>
			<cliqueId>N/A</cliqueId>
			<clusterUuid>N/A</clusterUuid>
			<health>
				<summary>N/A</summary>
				<bandwidth>N/A</bandwidth>
				<route_recovery_in_progress>N/A</route_recovery_in_progress>
				<route_unhealthy>N/A</route_unhealthy>
				<access_timeout_recovery>N/A</access_timeout_recovery>
				<incorrect_configuration>N/A</incorrect_configuration>
				<partition_assigned>N/A</partition_assigned>
			</health>
		</fabric>
		<supported_clocks>
${supportedClocks(p)}
		</supported_clocks>
		<processes>
		</processes>
		<accounted_processes>
		</accounted_processes>
		<capabilities>
			<egm>disabled</egm>
		</capabilities>
\t</gpu>`;
}
